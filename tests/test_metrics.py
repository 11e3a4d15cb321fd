"""Text metrics: properties on generated HTML (hypothesis), and the definitions on small fixed cases."""

from __future__ import annotations

import html
import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from impactreport.metrics import citation_doi, doi_registrant, html_text, text_metrics

# Text without the characters an HTML parser rewrites (NUL, CR) or that start markup, and without the
# categories where Python's `\w` (str.isalnum) and Unicode's (TR 18, which polars follows) disagree:
# other numbers (¼, ²), letter numbers, marks, symbols, format characters, unassigned.
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "No", "Nl", "Mn", "Mc", "Me", "So", "Cf", "Co", "Cn"),
        blacklist_characters="<>&\r",
    ),
    min_size=0,
    max_size=30,
) | st.sampled_from(["naïve café", "Ünïcödé 東京 😀", "a\u200bb", "x & y < z", "  ", "\n", "it's 3.5%"])
TAGS = st.sampled_from(["p", "em", "strong", "span", "li", "h2", "blockquote", "code", "div"])
HIDDEN = st.sampled_from(["script", "style"])


@st.composite
def fragments(draw) -> tuple[str, list[str]]:
    """An HTML fragment and the visible text nodes it must yield, in order."""
    parts: list[str] = []
    visible: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()) and draw(st.booleans()):
            tag = draw(HIDDEN)
            body = draw(st.text(alphabet="abc xyz;{}()=", max_size=20))
            parts.append(f"<{tag}>{body}</{tag}>")
            continue
        tag = draw(TAGS)
        text = draw(TEXT)
        numeric = draw(st.booleans())  # letters as numeric character references, & as &#38;
        encoded = "".join(
            f"&#{ord(c)};" if numeric and (c.isalpha() or c == "&") else html.escape(c, quote=False)
            for c in text
        )
        parts.append(f"<{tag}>{encoded}</{tag}>")
        if text:
            visible.append(text)
    return "".join(parts), visible


def metrics_of(body_html: str, body_md: str = "") -> dict:
    frame = pl.DataFrame({"body_html": [body_html], "body_md": [body_md]})
    return text_metrics(frame).row(0, named=True)


@settings(max_examples=300, deadline=None)
@given(fragments())
def test_characters_and_words_follow_the_definition(case: tuple[str, list[str]]) -> None:
    body, visible = case
    got = metrics_of(body)
    text = "".join(visible)
    assert got["characters"] == len(text)
    assert got["words"] == len(re.findall(r"\w+", " ".join(visible)))


@settings(max_examples=200, deadline=None)
@given(fragments(), fragments())
def test_metrics_add_up_over_concatenated_fragments(a, b) -> None:
    """Visible text of two fragments side by side is the sum of each: no text is lost or invented."""
    joined = metrics_of(a[0] + b[0])
    assert joined["characters"] == metrics_of(a[0])["characters"] + metrics_of(b[0])["characters"]
    assert joined["words"] == metrics_of(a[0])["words"] + metrics_of(b[0])["words"]


def test_words_do_not_run_across_nodes() -> None:
    # "end" and "start" are separate text nodes: joined by a space they are two words.
    assert metrics_of("<p>end</p><p>start</p>") == {"characters": 8, "words": 2, "dois": []}
    assert metrics_of("<p>a&nbsp;b &amp; c</p>")["characters"] == len("a\u00a0b & c")


def test_script_and_style_are_not_visible() -> None:
    text, _ = html_text("<p>shown</p><script>var hidden = 1;</script><style>p{}</style>")
    assert text.replace("\x00", "") == "shown"


def test_markdown_basis_counts_crlf_as_two() -> None:
    frame = pl.DataFrame({"body_html": ["<p>a</p>"], "body_md": ["one two\r\nthree"]})
    assert text_metrics(frame, text_basis="markdown").row(0) == (14, 3, [])


def test_dois_from_links_and_markdown() -> None:
    body = (
        '<span class="citation">[<a class="citation" data-key="10.1000/ABC" href="/doi/10.1000/ABC">1</a>]</span>'
        '<a class="citation" data-key="smith2015" href="http://example.org/">2</a>'
        '<a class="citation thread-citation" data-key="10.15363/thinklab.d5" href="/discussion/x/5">3</a>'
    )
    md = "see [@10.2000/XyZ; @smith] and [@ 10.3000/not] and [@10.4000/a @10.4000/b]"
    assert metrics_of(body, md)["dois"] == ["10.1000/abc", "10.15363/thinklab.d5", "10.2000/xyz"]
    assert citation_doi("https://doi.org/10.1/x?y", None) == "10.1/x"
    assert citation_doi("", "10.1/k") == "10.1/k"
    assert doi_registrant("10.1016/j.cell") == "1016"


def test_many_posts_in_parallel_match_one_by_one() -> None:
    bodies = [f"<p>post {i} &amp; <em>text</em> {'x' * (i % 7)}</p>" for i in range(25_000)]
    frame = pl.DataFrame({"body_html": bodies, "body_md": [""] * len(bodies)})
    parallel = text_metrics(frame)
    assert parallel["characters"].to_list()[:3] == [
        len("post 0 & text "),
        len("post 1 & text x"),
        len("post 2 & text xx"),
    ]
    assert parallel["characters"].sum() == sum(len(f"post {i} & text {'x' * (i % 7)}") for i in range(25_000))


def test_pool_stops_cleanly_when_loading_fails(monkeypatch) -> None:
    """A load that fails while chunks are still in the pipes kills the workers without a thread traceback."""
    import threading

    import pytest

    from impactreport.errors import InputError
    from impactreport.metrics import CHUNK_POSTS, HtmlMetricsPool

    failures: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    bodies = pl.Series([f"<p>{'x' * 2000} {i}</p>" for i in range(2 * CHUNK_POSTS)])
    with pytest.raises(InputError), HtmlMetricsPool(parallel=True, workers=2) as pool:
        pool.add(bodies)  # megabytes per chunk: the feeding threads block on the pipes
        raise InputError("a later file is bad")
    assert failures == []
