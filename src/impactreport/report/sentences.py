"""Every sentence the report prints about its numbers, in one place: the community sentences and the
revisions prose (the impact sentence itself is :meth:`impactreport.stats.ImpactStats.sentence`, shared
with ``summary``).

Why one module: the analyses and the history measure, the report words; a wording change is one edit
here, and ``summary``, ``summary.txt`` and the report print the same sentence.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from impactreport.labels import duration
from impactreport.settings import Period, day_text

if TYPE_CHECKING:
    from impactreport.history.edits import EditHistory
    from impactreport.stats import ImpactStats


def community_sentences(stats: ImpactStats, period: Period) -> tuple[str, str]:
    """The report's two community sentences: first responses, and people new in the period (or data)."""
    response = stats.overall.first_response
    none = f"{response.unanswered:,} got none" if response.unanswered != 1 else "1 got none"
    if response.answered and response.median_hours is not None:
        within = duration(response.median_hours)
        first = (
            f"Half of the {response.answered:,} answered discussions got a first response within "
            f"{within}; {none}."
        )
        if response.answered == 1:
            first = f"The one answered discussion got a first response within {within}; {none}."
    elif response.unanswered == 1:
        first = "The one discussion got no response from anyone but its opener."
    elif response.unanswered:
        first = f"None of the {response.unanswered:,} discussions got a response from anyone but its opener."
    else:
        first = "No discussion was opened, so there is no first response to measure."
    new = stats.overall.new_contributors
    people = "1 person" if new == 1 else f"{new:,} people"
    scope = "the data" if period.is_open else "the period"
    return first, f"{people} contributed for the first time in {scope}."


def revisions_sentence(history: EditHistory) -> str:
    """The report's sentence: "Counting the N revisions of M posts seen across K snapshots from DATE
    to DATE, contributors wrote X characters, P % more than the final texts hold.", or, with no
    revision, that the snapshots show none."""
    overall = history.overall
    snapshots = overall["snapshots"]
    if snapshots == 0:
        return "No snapshot was retrieved in the period, so no revision can be seen in it."
    revisions, posts = overall["revisions"], overall["edited_posts"]
    across = "1 snapshot" if snapshots == 1 else f"{snapshots:,} snapshots"
    first, last = _when(overall["first_snapshot"]), _when(overall["last_snapshot"])
    if revisions == 0:  # "Counting the 0 revisions of 0 posts" read as if there were some
        show = "shows" if snapshots == 1 else "show"
        return f"The {across} from {first} to {last} {show} no revised post: every text stayed as first seen."
    counted = "the 1 revision" if revisions == 1 else f"the {revisions:,} revisions"
    of = "1 post" if posts == 1 else f"{posts:,} posts"
    chars = overall["written_characters"]
    written = f"contributors wrote {chars:,} character{'' if chars == 1 else 's'}"
    percent = history.extra_percent
    tail = (
        f"{written}, {percent:,.1f} % more than the final texts hold."
        if percent is not None
        else f"{written}, while the final texts hold no more characters than before."
    )
    return f"Counting {counted} of {of} seen across {across} from {first} to {last}, {tail}"


def rerender_sentence(history: EditHistory) -> str:
    """The re-render days, the biggest named (they are not edits)."""
    days = history.rerender_days
    if days.height == 0:
        return "No re-render was seen: no post's HTML changed while its text stayed the same."
    total = int(days["rerenders"].sum())
    named = history.biggest_rerender_days()
    listed = "; ".join(
        f"{day_text(day)} ({_times(count)}" + (f" in {len(projects)} projects)" if len(projects) > 1 else ")")
        for day, count, projects in named.select("day", "rerenders", "projects").iter_rows()
    )
    days_text = "1 day" if days.height == 1 else f"{days.height:,} days"
    which = f": {listed}" if days.height <= named.height else f"; the biggest: {listed}"
    return (
        f"The site re-rendered posts without their text changing ({_times(total)}) on "
        f"{days_text}{which}. These re-renders are marked in the figure and are not counted as revisions."
    )


def revisions_limits(history: EditHistory) -> str:
    """What snapshots cannot show."""
    first = f" ({day_text(history.first_snapshot.date())})" if history.first_snapshot is not None else ""
    return (
        "Revisions are seen only by comparing snapshots: several edits between two snapshots count as "
        "one revision, dated by the snapshot that first shows it, and a text changed and changed back "
        f"between two snapshots shows none. Edits made before the first snapshot{first} are unknown."
    )


def _times(count: int) -> str:
    """``1 re-render``, ``250 re-renders``."""
    return "1 re-render" if count == 1 else f"{count:,} re-renders"


def _when(iso: str | None) -> str:
    """``2016-04-26T00:42:07.269959Z`` → ``26 Apr 2016``."""
    if not iso:
        return "an unknown date"
    return day_text(datetime.fromisoformat(iso.replace("Z", "+00:00")).date())
