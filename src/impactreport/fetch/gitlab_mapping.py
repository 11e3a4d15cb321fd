"""GitLab issues, merge requests and notes → the Thinklab table layout (format C), as pure functions.

A GitLab snapshot is written in the layout of a Thinklab format-C export, like a GitHub one
(:mod:`impactreport.fetch.mapping`, whose row helpers are used here), so the one loader reads it
unchanged. The GitLab fields kept on the rows besides the format-C keys: ``kind``, ``iid``, ``state``,
``gitlab_id`` (the raw id), ``updated`` (the item's ``updated_at``), and on notes ``noteable_type``.

Mapping (see docs/sources.md):

==============================  =======================================  ===============================
GitLab item                     table                                    id
==============================  =======================================  ===============================
issue                           thread (``kind`` ``issue``)              ``1·10¹² + id``
its description                 comment (the thread's first)             ``1·10¹² + id``
merge request                   thread (``kind`` ``merge_request``)      ``2·10¹² + id``
its description                 comment (the thread's first)             ``2·10¹² + id``
user note (issue or MR)         comment (``kind`` ``note``)              ``3·10¹² + id``
system note (``system: true``)  none: GitLab's record of a change        –
user (author)                   profile                                  user ``id``
==============================  =======================================  ===============================

Why the bands: GitLab keeps issues and merge requests in separate tables whose ids overlap (issue 7
and merge request 7 are different items), and a snapshot's thread ids must be unique; notes have one
id space of their own (issue and merge-request notes share it), banded apart from the descriptions
they sit beside in the comments table. The raw id stays readable (``id % 10**12``, and ``gitlab_id``).

Why system notes are left out: "changed the description", "added ~bug label", "mentioned in …" are
written by GitLab on a person's behalf, not by the person; counting them would count clicks as words.

Bots: a user object with ``bot: true`` (GitLab adds it where it exposes the user type), and GitLab's
project, group and service-account bots, whose usernames GitLab makes ``project_<id>_bot…`` /
``group_<id>_bot…``, are profiles with ``is_bot`` true: kept in the snapshot, left out of the counts
by the loader unless ``--include-bots`` (as GitHub's bots are).

Bodies: GitLab's REST API gives only the markdown (``description``, note ``body``), so ``body_md`` is
it and ``body_html`` is its text as escaped paragraphs (:func:`~impactreport.fetch.mapping.text_html`),
what the GitHub mapping stores when it has no rendered HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from impactreport.fetch.mapping import Row, banded, comment_row, iso_utc, text_html, thread_row

THREAD_ISSUE, THREAD_MERGE_REQUEST = 1, 2
COMMENT_NOTE = 3
KINDS = {"issue": THREAD_ISSUE, "merge_request": THREAD_MERGE_REQUEST}
#: GitLab's names for its bot users: project and group access-token bots, service accounts.
BOT_USERNAME = re.compile(r"^(?:project|group)_\d+_bot(?:[_\d].*)?$|^service_account_", re.IGNORECASE)


def is_bot(user: Mapping[str, Any]) -> bool:
    """A GitLab bot: ``bot: true`` on the user object, or a bot username (see the module docstring)."""
    return user.get("bot") is True or bool(BOT_USERNAME.match(str(user.get("username") or "")))


def gitlab_profile(user: Mapping[str, Any]) -> Row:
    """A REST user object (``id``, ``username``, ``name``, ``web_url``) → a profile row."""
    username = str(user["username"])
    return {
        "profile_id": int(user["id"]),
        "username": username,
        "first_name": user.get("name") or "",
        "last_name": "",
        "url": user.get("web_url") or "",
        "is_bot": is_bot(user),
    }


def note_url(item_url: str, note_id: int) -> str:
    """Where a note is shown: its issue's or merge request's page at the ``#note_<id>`` anchor."""
    return f"{item_url}#note_{note_id}"


def gitlab_item(
    item: Mapping[str, Any], notes: Iterable[Mapping[str, Any]], kind: str
) -> dict[str, list[Row]]:
    """One issue or merge request (``kind`` ``issue``/``merge_request``) and ALL its notes → rows.

    The description is the thread's first comment (a Thinklab thread's first comment is its opening
    post); every user note is a comment after it; system notes are dropped (module docstring).
    """
    band = KINDS[kind]
    author = gitlab_profile(item["author"])
    thread_id = banded(band, item["id"])
    web_url = str(item["web_url"])
    description = item.get("description") or ""
    thread = thread_row(
        thread_id,
        author["profile_id"],
        item.get("title") or "",
        iso_utc(item["created_at"]),
        web_url,
        kind=kind,
        gitlab_id=item["id"],
        iid=item["iid"],
        state=item.get("state"),
        updated=iso_utc(item.get("updated_at")),
    )
    opening = comment_row(
        banded(band, item["id"]),
        thread_id,
        author["profile_id"],
        description,
        text_html(description),
        iso_utc(item["created_at"]),
        web_url,
        kind=f"{kind}_description",
        gitlab_id=item["id"],
        updated=iso_utc(item.get("updated_at")),
    )
    rows: dict[str, list[Row]] = {
        "threads": [thread],
        "comments": [opening],
        "notes": [],
        "profiles": [author],
    }
    for note in notes:
        if note.get("system"):
            continue
        profile = gitlab_profile(note["author"])
        body = note.get("body") or ""
        rows["profiles"].append(profile)
        rows["comments"].append(
            comment_row(
                banded(COMMENT_NOTE, note["id"]),
                thread_id,
                profile["profile_id"],
                body,
                text_html(body),
                iso_utc(note["created_at"]),
                note_url(web_url, int(note["id"])),
                kind="note",
                gitlab_id=note["id"],
                noteable_type=note.get("noteable_type"),
                updated=iso_utc(note.get("updated_at")),
            )
        )
    return rows
