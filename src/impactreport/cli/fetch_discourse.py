"""``impactreport fetch discourse``: a Discourse forum's (or category's) topics and posts into a snapshot.

``Api-Key``/``Api-Username`` come from ``DISCOURSE_API_KEY`` / ``DISCOURSE_API_USERNAME`` when set
(never options: argv is visible to other users); without them the public forum is read anonymously.
See docs/sources.md.
"""

from __future__ import annotations

import os
import re

import click

from impactreport.errors import InputError
from impactreport.fetch.discourse import POLITE_RATE, DiscourseFetch
from impactreport.fetch.ratelimits import DISCOURSE_POLICY

from .console import err_console
from .fetch_options import SyncSettings, check_url, run_incremental, sync_options

KEY_VARIABLE = "DISCOURSE_API_KEY"
USER_VARIABLE = "DISCOURSE_API_USERNAME"
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@click.command(name="discourse")
@click.option("--base-url", required=True, help="The forum, e.g. https://discourse.example.org")
@click.option("--category", default=None, metavar="SLUG", help="Only this category (its slug).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=POLITE_RATE,
    show_default=True,
    help="Requests a second at most (0: no limit). Discourse allows an admin key 60 a minute.",
)
@sync_options(DISCOURSE_POLICY)
def command(
    base_url: str,
    category: str | None,
    rate: float,
    settings: SyncSettings,
) -> None:
    """Fetch a Discourse forum's topics and all their posts into DATA/exports/discourse/HOST[__CATEGORY]/.

    Every post is kept (the first one of a topic is the thread's first comment), with views, replies,
    likes and reads. 429 answers are waited out (the display shows until when).
    """
    err = err_console()
    base = check_url("--base-url", base_url, err)
    if category is not None and not SLUG_PATTERN.match(category):
        raise InputError(f"--category {category!r}: expected a category slug (lowercase letters, digits, -)")
    api_key = os.environ.get(KEY_VARIABLE) or None
    api_username = os.environ.get(USER_VARIABLE) or None
    if api_key and not api_username:
        raise InputError(f"{KEY_VARIABLE} is set but {USER_VARIABLE} is not: set both, or neither")
    source = DiscourseFetch(
        base,
        category=category,
        api_key=api_key,
        api_username=api_username,
        rate=rate,
        policy=settings.policy(DISCOURSE_POLICY),
    )
    run_incremental(source, settings, title=f"Discourse {base} → {settings.data_dir}")
