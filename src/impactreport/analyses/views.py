"""Views: per thread and document in the newest snapshot, the top discussions, and views over time.

``views_table`` reads the dataset (newest snapshot of each project). ``views_over_time`` reads the
series from :func:`impactreport.history.views.load_views` (every snapshot): per day the last snapshot of
each project counts, an item missing from a day's files keeps its previous count (views never
decrease), and growth per month is (last − first) / months between the item's first and last day.

With a period: views over time show the snapshots retrieved in the period, and "views" become the views
**gained** in it where snapshots bracket it (:func:`views_gained`): per item, its views in the last
snapshot retrieved at or before ``until`` minus those in the last at or before ``since`` (0 when the item
is not in that one yet). Without such snapshots for every project the views stay the newest snapshot's
all-time views, and the caller says so.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from impactreport.labels import printable
from impactreport.schema import Dataset
from impactreport.settings import Period

from .params import AnalysisParams

TOTAL = "All discussions and documents"
THINKLAB = "https://thinklab.com"
MAX_TITLE = 60
DAYS_PER_MONTH = 365.25 / 12

OVER_TIME_SCHEMA = pl.Schema(
    {
        "series": pl.String(),
        "kind": pl.String(),
        "order": pl.Int64(),
        "date": pl.Date(),
        "views": pl.Int64(),
        "growth_per_month": pl.Float64(),
    }
)


def shorten(text: pl.Expr, limit: int = MAX_TITLE) -> pl.Expr:
    """Titles printable and longer ones cut at ``limit - 1`` characters plus an ellipsis."""
    return printable(text, limit)


#: Every Thinklab discussion has a DOI (10.15363/thinklab.d<thread id>); thinklab.com is gone.
THINKLAB_DOI = "10.15363/thinklab."
DOI_RESOLVER = "https://doi.org/"


def link(
    url: pl.Expr, doi: pl.Expr | None = None, kind: pl.Expr | None = None, item: pl.Expr | None = None
) -> pl.Expr:
    """Where a reader can still open an item: a Thinklab discussion or document by its DOI (the export's
    ``doi``, else 10.15363/thinklab.d<id> for a Thinklab discussion path); a site path
    (``/discussion/…``) otherwise as a thinklab.com URL; full URLs as they are."""
    site = pl.when(url.str.starts_with("/")).then(pl.lit(THINKLAB) + url).otherwise(url)
    if doi is None or kind is None or item is None:
        return site
    by_id = pl.lit(DOI_RESOLVER + THINKLAB_DOI + "d") + item.cast(pl.String)
    return (
        pl.when(doi.str.starts_with(THINKLAB_DOI))
        .then(pl.lit(DOI_RESOLVER) + doi)
        .when((kind == "discussion") & url.str.contains(r"^/(discussion|doc)/") & item.is_not_null())
        .then(by_id)
        .otherwise(site)
    )


GAINED_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "project": pl.String(),
        "kind": pl.String(),
        "id": pl.Int64(),
        "url": pl.String(),
        "views": pl.Int64(),
        "views_from": pl.Date(),
        "views_to": pl.Date(),
    }
)


def _item_key() -> pl.Expr:
    return pl.concat_str(
        "source", "project", "kind", pl.coalesce(pl.col("id").cast(pl.String), "url"), separator="\x1f"
    )


def views_gained(series: pl.DataFrame | None, period: Period) -> pl.DataFrame | None:
    """Views gained in the period per thread and document, or None when snapshots do not bracket it.

    Per project: the end snapshot is the last retrieved on or before ``until`` (the newest when open),
    the start snapshot the last retrieved on or before ``since`` (none when ``since`` is open: every
    view up to the end counts). A project without an end snapshot, or without a start snapshot when
    ``since`` is given, leaves the period unbracketed: None. Columns of :data:`GAINED_SCHEMA`
    (``kind`` is ``discussion`` or ``document``; ``views_from`` null when ``since`` is open).
    """
    if series is None or series.is_empty() or period.is_open:
        return None
    dated = series.with_columns(date=pl.col("retrieved").dt.date(), key=_item_key())
    projects = dated.select("source", "project").unique()

    def last_on_or_before(day: date | None) -> pl.DataFrame:
        rows = dated if day is None else dated.filter(pl.col("date") <= day)
        latest = rows.group_by("source", "project").agg(at=pl.col("retrieved").max())
        return rows.join(latest, on=["source", "project"]).filter(pl.col("retrieved") == pl.col("at"))

    end = last_on_or_before(period.until)
    if end.select("source", "project").unique().height < projects.height:
        return None
    if period.since is None:
        start = dated.clear().with_columns(at=pl.col("retrieved"))
    else:
        start = last_on_or_before(period.since)
        if start.select("source", "project").unique().height < projects.height:
            return None
    return (
        end.join(start.select("key", before="views", views_from=pl.col("date")), on="key", how="left")
        .with_columns(
            views=(pl.col("views") - pl.col("before").fill_null(0)).clip(lower_bound=0),
            views_from=pl.col("views_from").max().over("source", "project"),
            kind=pl.when(pl.col("kind") == "thread").then(pl.lit("discussion")).otherwise("kind"),
        )
        .select("source", "project", "kind", "id", "url", "views", "views_from", views_to="date")
        .cast(pl.Schema(GAINED_SCHEMA))
    )


def views_table(dataset: Dataset, gained: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every thread and document with its views, most viewed first.

    Columns: rank, project, kind (discussion/document), id, title, url, link, views, published.
    Untitled threads get a descriptive title (document review, review summary). With ``gained``
    (:func:`views_gained`) ``views`` are the views gained in the period, for every item of the dataset
    that gained any, with the snapshot days they are measured between (``views_from``, ``views_to``).
    """
    threads = dataset.threads.lazy().select(
        "project",
        kind=pl.lit("discussion"),
        id="thread_id",
        title=pl.when(pl.col("subject").str.strip_chars() != "")
        .then(pl.col("subject").str.strip_chars())
        .when(pl.col("url").str.contains("/doc/") | pl.col("document_id").is_not_null())
        .then(pl.lit("Review of the ") + pl.col("project") + " document")
        .when(pl.col("url").str.contains("/review-summary/"))
        .then(pl.lit("Review summary (") + pl.col("project") + ")")
        .otherwise(pl.lit("Untitled discussion ") + pl.col("thread_id").cast(pl.String)),
        url="url",
        doi="doi",
        views="views",
        published="published",
    )
    documents = dataset.documents.lazy().select(
        "project",
        kind=pl.lit("document"),
        id="document_id",
        title=pl.when(pl.col("title").str.strip_chars() != "")
        .then(pl.col("title").str.strip_chars())
        .otherwise(
            pl.col("project")
            + " "
            + pl.col("url").str.extract(r"/p/[^/]+/([^/?#]+)").fill_null("project page")
        ),
        url="url",
        doi="doi",
        views="views",
        published="published",
    )
    items = pl.concat([threads, documents])
    extra: list[str] = []
    if gained is not None:
        items = items.drop("views").join(
            gained.lazy().select("project", "kind", "id", "views", "views_from", "views_to"),
            on=["project", "kind", "id"],
        )
        items = items.filter(pl.col("views") > 0)
        extra = ["views_from", "views_to"]
    return (
        items.filter(pl.col("views").is_not_null())
        .with_columns(
            title=shorten(pl.col("title")),
            link=link(pl.col("url"), pl.col("doi"), pl.col("kind"), pl.col("id")),
        )
        .sort(["views", "project", "id"], descending=[True, False, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1))
        .select("rank", "project", "kind", "id", "title", "url", "link", "views", "published", *extra)
        .collect()
    )


def top_discussions(views: pl.DataFrame, params: AnalysisParams) -> pl.DataFrame:
    """The most viewed discussions (threads only), with title and link."""
    return views.filter(pl.col("kind") == "discussion").head(params.top_discussions)


def url_title(url: pl.Expr) -> pl.Expr:
    """A title from a Thinklab discussion url's slug (``/discussion/the-title/205`` → "the title")."""
    return url.str.extract(r"/discussion/([^/]+)/").str.replace_all("-", " ").str.strip_chars()


def views_over_time(
    series: pl.DataFrame | None, views: pl.DataFrame, params: AnalysisParams, period: Period | None = None
) -> pl.DataFrame:
    """Total views and the top threads' views per snapshot day, with growth per month.

    Columns: series, kind (total/discussion), order (0 = total, then by views), date, views,
    growth_per_month (null for a series seen on one day only). Thread titles come from ``views``
    (:func:`views_table`), else from the thread
    url's slug, else "Discussion <id> (<project>)"; all printable (:func:`impactreport.labels.printable`).
    With ``period`` only the snapshots retrieved in it count. Empty when fewer than two days remain.
    """
    if series is not None and period is not None and not period.is_open:
        series = series.filter(period.contains("retrieved"))
    if series is None or series.is_empty():
        return pl.DataFrame(schema=OVER_TIME_SCHEMA)
    daily = (
        series.lazy()
        .with_columns(date=pl.col("retrieved").dt.date(), key=_item_key())
        .sort("retrieved")
        .group_by("key", "date")
        .agg(pl.col("views").last(), pl.col("kind").last(), pl.col("project").last(), pl.col("id").last())
        .collect()
    )
    dates = daily.select(pl.col("date").unique().sort())
    if dates.height < 2:
        return pl.DataFrame(schema=OVER_TIME_SCHEMA)
    keys = daily.group_by("key").agg(pl.col("kind", "project", "id").last())
    urls = (
        series.lazy().with_columns(key=_item_key()).group_by("key").agg(url=pl.col("url").drop_nulls().last())
    )
    filled = (
        keys.lazy()
        .join(dates.lazy(), how="cross")
        .join(daily.lazy().select("key", "date", "views"), on=["key", "date"], how="left")
        .sort("key", "date")
        .with_columns(views=pl.col("views").forward_fill().over("key"))
    )
    total = (
        filled.group_by("date")
        .agg(views=pl.col("views").fill_null(0).sum().cast(pl.Int64))
        .select(
            series=pl.lit(TOTAL), kind=pl.lit("total"), order=pl.lit(0, pl.Int64), date="date", views="views"
        )
    )
    if views is None:
        views = pl.DataFrame(
            schema={"project": pl.String, "kind": pl.String, "id": pl.Int64, "title": pl.String}
        )
    titles = views.filter(pl.col("kind") == "discussion").select("project", "id", "title")
    top = (
        keys.lazy()
        .filter(pl.col("kind") == "thread")
        .join(
            daily.lazy().sort("date").group_by("key").agg(latest=pl.col("views").last()), on="key", how="left"
        )
        .join(titles.lazy(), on=["project", "id"], how="left")
        .sort(["latest", "key"], descending=[True, False])
        .head(params.top_threads)
        .join(urls, on="key", how="left", maintain_order="left")
        .with_columns(
            order=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
            series=shorten(
                pl.coalesce(
                    "title",
                    url_title(pl.col("url")),
                    pl.lit("Discussion ")
                    + pl.coalesce(pl.col("id").cast(pl.String), pl.lit("?"))
                    + " ("
                    + pl.col("project")
                    + ")",
                )
            ),
        )
    )
    threads = (
        filled.join(top.select("key", "series", "order"), on="key")
        .drop_nulls("views")
        .select("series", kind=pl.lit("discussion"), order="order", date="date", views="views")
    )
    # a series seen on one day only has no growth (null, never NaN: 0 / 0 months)
    span = (pl.col("date").max() - pl.col("date").min()).dt.total_days()
    growth = (
        pl.when(span > 0)
        .then(
            (pl.col("views").sort_by("date").last() - pl.col("views").sort_by("date").first())
            / (span / DAYS_PER_MONTH)
        )
        .otherwise(None)
    )
    return (
        pl.concat([total, threads])
        .with_columns(growth_per_month=growth.over("series"))
        .sort("order", "date")
        .collect()
        .cast(pl.Schema(OVER_TIME_SCHEMA))
    )
