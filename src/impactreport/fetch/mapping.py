"""GitHub and Discourse items → the Thinklab table layout (format C), as pure functions.

A GitHub or Discourse snapshot is written in the same layout as a Thinklab format-C export, so the
one loader reads every source unchanged: five arrays of flat rows (``documents``, ``threads``,
``comments``, ``notes``, ``profiles``) with ``*_id`` keys, plus a top-level ``source``. The source's own
identifiers (issue number, node id, topic slug, post number, …) are kept on the rows as extra keys.

Mapping (see docs/sources.md):

==============================  =======================================  ===============================
source item                     table                                    id
==============================  =======================================  ===============================
GitHub issue / pull request     thread                                   ``1·10¹² + id``
its body                        comment (the thread's first)             ``1·10¹² + id``
GitHub issue comment            comment                                  ``3·10¹² + id``
GitHub PR review comment        comment (on its pull request's thread)   ``6·10¹² + id``
GitHub PR review body           comment (non-empty bodies only)          ``7·10¹² + id``
GitHub discussion               thread                                   ``2·10¹² + databaseId``
its body                        comment (the thread's first)             ``4·10¹² + databaseId``
GitHub discussion comment       comment                                  ``5·10¹² + databaseId``
GitHub discussion reply         note (on its comment)                    ``databaseId``
GitHub user / bot               profile                                  ``id`` / ``databaseId``
Discourse topic                 thread                                   topic ``id``
Discourse post (first too)      comment (``reply_to_post_number`` kept)  post ``id``
Discourse user                  profile                                  user ``id``
==============================  =======================================  ===============================

Why the GitHub bands: issues, issue comments, review comments, reviews, discussions and discussion
comments are separate database tables whose ids overlap, but a snapshot's ids must be unique per
table. The band keeps the real database id readable (``id % 10**12``, also stored as ``github_id``)
and can never collide, since GitHub ids are far below 10¹². Discourse topics, posts and users each
have one id space: used as is.

Timestamps are normalised to ISO 8601 UTC with microseconds (``2019-09-14T21:56:31.000000Z``),
the format-C spelling.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from impactreport.timefmt import iso_z

Row = dict[str, Any]

BAND = 10**12
THREAD_ISSUE, THREAD_DISCUSSION = 1, 2
COMMENT_ISSUE_BODY, COMMENT_ISSUE, COMMENT_DISCUSSION_BODY, COMMENT_DISCUSSION = 1, 3, 4, 5
COMMENT_REVIEW_COMMENT, COMMENT_REVIEW = 6, 7
#: GitHub's placeholder account for deleted users: authors that are null in the API become it.
GHOST: Mapping[str, Any] = {
    "login": "ghost",
    "id": 10137,
    "type": "User",
    "html_url": "https://github.com/ghost",
}
TABLES = ("documents", "threads", "comments", "notes", "profiles")


def banded(band: int, database_id: int) -> int:
    """A snapshot id from a GitHub database id and its band (see the module docstring)."""
    return band * BAND + int(database_id)


def iso_utc(value: str | None) -> str | None:
    """Any ISO 8601 timestamp → the format-C spelling in UTC with microseconds (None stays None)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_z(moment, "microseconds")


def is_bot_login(login: str, kind: str | None = None) -> bool:
    """GitHub's bot test: account ``type: Bot`` (GraphQL ``__typename: Bot``) or a ``[bot]`` login."""
    return kind == "Bot" or login.endswith("[bot]")


def text_html(text: str) -> str:
    """Plain text as HTML (escaped), for bodies a source gives only as text."""
    return "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part.strip())


def thread_row(
    thread_id: int, profile_id: int | None, subject: str, published: str | None, url: str, **source: Any
) -> Row:
    """A thread in the Thinklab (format C) layout; ``source`` adds the source's own fields (kind, ids)."""
    return {
        "thread_id": thread_id,
        "profile_id": profile_id,
        "document_id": None,
        "subject": subject,
        "published": published,
        "doi": None,
        "doi_field": None,
        "topic_field": "",
        "url": url,
        "views": source.pop("views", None),
        **source,
    }


def comment_row(
    comment_id: int,
    thread_id: int,
    profile_id: int | None,
    markdown: str,
    html_body: str,
    published: str | None,
    url: str,
    **source: Any,
) -> Row:
    """A comment in the Thinklab (format C) layout; ``source`` adds the source's own fields (kind, ids)."""
    return {
        "comment_id": comment_id,
        "thread_id": thread_id,
        "profile_id": profile_id,
        "body_md": markdown,
        "body_html": html_body,
        "published": published,
        "url": url,
        **source,
    }


# --------------------------------------------------------------------------------------- GitHub


def github_profile(user: Mapping[str, Any] | None) -> Row:
    """A REST user object (``login``, ``id``, ``type``) or a GraphQL author → a profile row."""
    user = user or GHOST
    login = user["login"]
    kind = user.get("type") or user.get("__typename")
    profile_id = user.get("id") if isinstance(user.get("id"), int) else user.get("databaseId")
    if profile_id is None:
        raise ValueError(f"GitHub user {login!r} has no numeric id")
    return {
        "profile_id": int(profile_id),
        "username": login,
        "first_name": user.get("name") or "",
        "last_name": "",
        "url": user.get("html_url") or user.get("url") or f"https://github.com/{login}",
        "is_bot": is_bot_login(login, kind),
    }


def _body_html(item: Mapping[str, Any], html_key: str) -> str:
    value = item.get(html_key)
    return value if value is not None else text_html(item.get("body") or "")


def github_issue(
    issue: Mapping[str, Any],
    comments: Iterable[Mapping[str, Any]],
    review_comments: Iterable[Mapping[str, Any]] = (),
    reviews: Iterable[Mapping[str, Any]] = (),
) -> dict[str, list[Row]]:
    """One REST issue (or pull request) and all its comments → rows of every table.

    The issue body becomes the thread's first comment, as a Thinklab thread's first comment is
    its opening post. Bodies: ``body`` (markdown) and ``body_html`` (requested with the
    ``application/vnd.github.full+json`` media type). A pull request's review comments (on diff
    lines) and the bodies of its submitted reviews are comments of the same thread: the review
    discussion is part of the pull request's conversation. A review without a body (an approval
    with nothing said, or one that only holds line comments) is no comment: its line comments are.
    """
    author = github_profile(issue.get("user"))
    thread_id = banded(THREAD_ISSUE, issue["id"])
    kind = "pull" if "pull_request" in issue else "issue"
    thread = thread_row(
        thread_id,
        author["profile_id"],
        issue.get("title") or "",
        iso_utc(issue["created_at"]),
        issue["html_url"],
        kind=kind,
        github_id=issue["id"],
        node_id=issue.get("node_id"),
        number=issue["number"],
        state=issue.get("state"),
        updated=iso_utc(issue.get("updated_at")),
    )
    opening = comment_row(
        banded(COMMENT_ISSUE_BODY, issue["id"]),
        thread_id,
        author["profile_id"],
        issue.get("body") or "",
        _body_html(issue, "body_html"),
        iso_utc(issue["created_at"]),
        issue["html_url"],
        kind=f"{kind}_body",
        github_id=issue["id"],
        updated=iso_utc(issue.get("updated_at")),
    )
    rows: dict[str, list[Row]] = {
        "threads": [thread],
        "comments": [opening],
        "notes": [],
        "profiles": [author],
    }

    def add(item: Mapping[str, Any], band: int, kind: str, published: str, **extra: Any) -> None:
        """One REST comment-like item (comment, review comment, review) as a comment on the thread."""
        profile = github_profile(item.get("user"))
        rows["profiles"].append(profile)
        rows["comments"].append(
            comment_row(
                banded(band, item["id"]),
                thread_id,
                profile["profile_id"],
                item.get("body") or "",
                _body_html(item, "body_html"),
                iso_utc(published),
                item.get("html_url") or issue["html_url"],
                kind=kind,
                github_id=item["id"],
                **extra,
            )
        )

    for comment in comments:
        add(
            comment,
            COMMENT_ISSUE,
            "issue_comment",
            comment["created_at"],
            updated=iso_utc(comment.get("updated_at")),
        )
    for comment in review_comments:
        add(
            comment,
            COMMENT_REVIEW_COMMENT,
            "review_comment",
            comment["created_at"],
            review_id=comment.get("pull_request_review_id"),
            in_reply_to_id=comment.get("in_reply_to_id"),
            path=comment.get("path"),
            updated=iso_utc(comment.get("updated_at")),
        )
    for review in reviews:
        if not (review.get("body") or "").strip() or not review.get("submitted_at"):
            continue  # no words (or a pending review, seen only by its author)
        add(
            review,
            COMMENT_REVIEW,
            "review",
            review["submitted_at"],
            state=review.get("state"),
            updated=iso_utc(review["submitted_at"]),
        )
    return rows


def _graphql_author(node: Mapping[str, Any]) -> Row:
    return github_profile(node.get("author"))


def _editor_id(node: Mapping[str, Any]) -> int | None:
    """Who last edited a GraphQL discussion, comment or reply (``editor``; null when never edited, or
    when the API names no account): the author of the revisions the snapshots show."""
    editor = node.get("editor")
    return None if not editor or editor.get("databaseId") is None else int(editor["databaseId"])


def github_discussion(discussion: Mapping[str, Any]) -> dict[str, list[Row]]:
    """One GraphQL discussion with ALL its comments and replies (pages already joined) → rows.

    ``discussion["comments"]["nodes"]`` and each comment's ``replies.nodes`` must be complete: the
    GitHub client follows every nested page before mapping.
    """
    author = _graphql_author(discussion)
    thread_id = banded(THREAD_DISCUSSION, discussion["databaseId"])
    thread = thread_row(
        thread_id,
        author["profile_id"],
        discussion.get("title") or "",
        iso_utc(discussion["createdAt"]),
        discussion["url"],
        kind="discussion",
        github_id=discussion["databaseId"],
        node_id=discussion["id"],
        number=discussion.get("number"),
        state="closed" if discussion.get("closed") else "open",
        updated=iso_utc(discussion.get("updatedAt")),
    )
    rows: dict[str, list[Row]] = {
        "threads": [thread],
        "comments": [
            {
                "comment_id": banded(COMMENT_DISCUSSION_BODY, discussion["databaseId"]),
                "thread_id": thread_id,
                "profile_id": author["profile_id"],
                "body_md": discussion.get("body") or "",
                "body_html": discussion.get("bodyHTML") or text_html(discussion.get("body") or ""),
                "published": iso_utc(discussion["createdAt"]),
                "url": discussion["url"],
                "kind": "discussion_body",
                "github_id": discussion["databaseId"],
                "editor_id": _editor_id(discussion),
                "updated": iso_utc(discussion.get("updatedAt")),
            }
        ],
        "notes": [],
        "profiles": [author],
    }
    for comment in discussion["comments"]["nodes"]:
        profile = _graphql_author(comment)
        comment_id = banded(COMMENT_DISCUSSION, comment["databaseId"])
        rows["profiles"].append(profile)
        rows["comments"].append(
            {
                "comment_id": comment_id,
                "thread_id": thread_id,
                "profile_id": profile["profile_id"],
                "body_md": comment.get("body") or "",
                "body_html": comment.get("bodyHTML") or text_html(comment.get("body") or ""),
                "published": iso_utc(comment["createdAt"]),
                "url": comment["url"],
                "kind": "discussion_comment",
                "github_id": comment["databaseId"],
                "node_id": comment["id"],
                "is_answer": bool(comment.get("isAnswer")),
                "editor_id": _editor_id(comment),
                "updated": iso_utc(comment.get("updatedAt")),
            }
        )
        for reply in comment.get("replies", {}).get("nodes", []):
            reply_author = _graphql_author(reply)
            rows["profiles"].append(reply_author)
            rows["notes"].append(
                {
                    "note_id": int(reply["databaseId"]),
                    "comment_id": comment_id,
                    "profile_id": reply_author["profile_id"],
                    "body_md": reply.get("body") or "",
                    "body_html": reply.get("bodyHTML") or text_html(reply.get("body") or ""),
                    "added": iso_utc(reply["createdAt"]),
                    "url": reply["url"],
                    "thread_id": thread_id,
                    "github_id": reply["databaseId"],
                    "node_id": reply["id"],
                    "editor_id": _editor_id(reply),
                    "updated": iso_utc(reply.get("updatedAt")),
                }
            )
    return rows


# ------------------------------------------------------------------------------------ Discourse


def discourse_profile(post: Mapping[str, Any], base_url: str) -> Row:
    """The author of a post → a profile row (system accounts, id ≤ 0, are bots)."""
    username = post.get("username") or ""
    return {
        "profile_id": int(post["user_id"]),
        "username": username,
        "first_name": post.get("name") or "",
        "last_name": "",
        "url": f"{base_url}/u/{username}",
        "is_bot": int(post["user_id"]) <= 0 or username in ("system", "discobot"),
    }


def discourse_topic(
    topic: Mapping[str, Any], posts: Iterable[Mapping[str, Any]], base_url: str
) -> dict[str, list[Row]]:
    """One topic (its ``/t/<id>.json`` fields) and ALL its posts → rows.

    Every post is a comment, the first one included (a Thinklab thread's first comment is its
    opening post); a reply keeps ``reply_to_post_number``. Views, reply counts, likes and reads are
    kept. The thread's author is the topic's ``user_id`` (the first post's author when absent).
    """
    ordered = sorted(posts, key=lambda post: post["post_number"])
    slug = topic.get("slug") or "topic"
    thread_url = f"{base_url}/t/{slug}/{topic['id']}"
    opener = topic.get("user_id")
    if opener is None and ordered:
        opener = ordered[0]["user_id"]
    thread = thread_row(
        int(topic["id"]),
        None if opener is None else int(opener),
        topic.get("title") or "",
        iso_utc(topic.get("created_at") or (ordered[0]["created_at"] if ordered else None)),
        thread_url,
        views=topic.get("views"),
        kind="topic",
        slug=slug,
        category_id=topic.get("category_id"),
        posts_count=topic.get("posts_count"),
        reply_count=topic.get("reply_count"),
        like_count=topic.get("like_count"),
        updated=iso_utc(topic.get("last_posted_at")),
    )
    rows: dict[str, list[Row]] = {"threads": [thread], "comments": [], "notes": [], "profiles": []}
    for post in ordered:
        rows["profiles"].append(discourse_profile(post, base_url))
        likes = next((a.get("count", 0) for a in post.get("actions_summary", []) if a.get("id") == 2), 0)
        rows["comments"].append(
            {
                "comment_id": int(post["id"]),
                "thread_id": int(topic["id"]),
                "profile_id": int(post["user_id"]),
                "body_md": post.get("raw") or "",
                "body_html": post.get("cooked") or "",
                "published": iso_utc(post["created_at"]),
                "url": f"{thread_url}/{post['post_number']}",
                "kind": "post",
                "post_number": post["post_number"],
                "reply_to_post_number": post.get("reply_to_post_number"),
                "reply_count": post.get("reply_count"),
                "reads": post.get("reads"),
                "likes": likes,
                "updated": iso_utc(post.get("updated_at")),
            }
        )
    return rows


# ------------------------------------------------------------------------------- snapshot rows


def authors(tables: Mapping[str, list[Row]]) -> set[int]:
    """Profile ids that wrote a thread, comment or note: the profiles a snapshot must list."""
    found = {row["profile_id"] for table in ("threads", "comments", "notes") for row in tables.get(table, [])}
    found.discard(None)
    return found


def assemble(parts: Iterable[Mapping[str, list[Row]]], source: str, **extra: Any) -> dict[str, Any]:
    """Rows of many threads → one snapshot payload: tables de-duplicated by id and sorted by id.

    A later row with the same id replaces an earlier one (so a re-fetched thread wins in a merge);
    profiles are kept only for authors, as Thinklab lists exactly a project's contributors.
    """
    keys = {"threads": "thread_id", "comments": "comment_id", "notes": "note_id", "profiles": "profile_id"}
    merged: dict[str, dict[int, Row]] = {table: {} for table in keys}
    for part in parts:
        for table, key in keys.items():
            for row in part.get(table, []):
                old = merged[table].get(row[key])
                if table == "profiles" and old is not None:
                    # REST users carry no name, GraphQL authors do: keep the name whichever came last,
                    # so a full fetch and a merged one give the same row.
                    row = {**row, "first_name": max(old["first_name"], row["first_name"])}
                merged[table][row[key]] = row
    tables: dict[str, list[Row]] = {table: [rows[i] for i in sorted(rows)] for table, rows in merged.items()}
    wrote = authors(tables)
    tables["profiles"] = [row for row in tables["profiles"] if row["profile_id"] in wrote]
    return {"source": source, **extra, "documents": [], **tables}


def split_threads(payload: Mapping[str, Any]) -> dict[int, dict[str, list[Row]]]:
    """A stored snapshot → its rows grouped per thread (for the incremental merge).

    Profiles are attached to every thread they wrote in, so a thread can be dropped or replaced as
    a unit and the profiles still follow the remaining rows.
    """
    profiles = {row["profile_id"]: row for row in payload.get("profiles", [])}
    comment_thread = {row["comment_id"]: row["thread_id"] for row in payload.get("comments", [])}
    groups: dict[int, dict[str, list[Row]]] = {}
    for thread in payload.get("threads", []):
        groups[thread["thread_id"]] = {"threads": [thread], "comments": [], "notes": [], "profiles": []}
    for comment in payload.get("comments", []):
        groups[comment["thread_id"]]["comments"].append(comment)
    for note in payload.get("notes", []):
        thread_id = note.get("thread_id", comment_thread.get(note["comment_id"]))
        groups[thread_id]["notes"].append(note)
    for group in groups.values():
        group["profiles"] = [profiles[i] for i in sorted(authors(group)) if i in profiles]
    return groups


def merge(
    previous: Mapping[str, Any], fresh: Iterable[Mapping[str, list[Row]]], source: str, **extra: Any
) -> dict[str, Any]:
    """Previous snapshot + re-fetched threads → the complete new snapshot.

    A re-fetched thread replaces its old rows whole, so a comment deleted since the previous snapshot
    disappears and an edited one is updated; untouched threads are kept as they were.
    """
    fresh = list(fresh)
    replaced = {row["thread_id"] for part in fresh for row in part["threads"]}
    kept = [group for thread_id, group in split_threads(previous).items() if thread_id not in replaced]
    return assemble([*kept, *fresh], source, **extra)
