"""``impactreport fetch mbox|pipermail|hyperkitty``: mailing-list archives into ``mail`` snapshots.

The corpus is built here with the stdlib (:class:`email.message.EmailMessage`, written by
:class:`mailbox.mbox`): MIME multipart, base64 and quoted-printable bodies, ISO-8859-1 and KOI8-R,
encoded-word headers, a body line starting with ``From `` (escaped ``>From `` by the writer), one
address in two cases, a thread across months, a reply whose parent is missing but whose subject
matches, quotes with attributions and signatures, a duplicate, a message without a Date.

Expected numbers come by another route: messages, people and threads from the raw files read back
with :mod:`mailbox` and :mod:`email` (compat32, raw headers); words and characters from each message's
own sentences as the corpus wrote them (never from the parser under test).
"""

from __future__ import annotations

import gzip
import json
import mailbox
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import pytest

from impactreport.fetch.mail_text import own_text
from impactreport.fetch.mbox import parse_mbox
from impactreport.fetch.store import read_snapshot
from tests import runner
from tests.servers.github_app import serve
from tests.servers.mailman_app import MailmanState

FAST = ["--backoff", "0.05"]


@dataclass
class Mail:
    """One message of the corpus: what it is made of, so its expected own text is known."""

    mid: str
    sender: str
    when: datetime | None
    subject: str
    own: str
    month: str
    reply_to: str | None = None
    quoted: str = ""
    attribution: str = ""
    signature: str = ""
    charset: str = "utf-8"
    cte: str | None = None
    html: str | None = None  # an HTML alternative (or the only body with html_only)
    html_only: bool = False

    def message(self) -> mailbox.mboxMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["Subject"] = self.subject
        if self.when is not None:
            message["Date"] = format_datetime(self.when)
        message["Message-ID"] = f"<{self.mid}>"
        if self.reply_to:
            message["In-Reply-To"] = f"<{self.reply_to}>"
            message["References"] = f"<{self.reply_to}>"
        body = self.own
        if self.attribution or self.quoted:
            body += f"\n\n{self.attribution}\n{self.quoted}"
        if self.signature:
            body += f"\n-- \n{self.signature}"
        if self.html_only:
            message.set_content(self.html or "", subtype="html")
        else:
            message.set_content(body + "\n", charset=self.charset, cte=self.cte)
            if self.html is not None:
                message.add_alternative(self.html, subtype="html")
        boxed = mailbox.mboxMessage(message)
        address = parseaddr(self.sender)[1]
        moment = (self.when or datetime(2024, 3, 2, 12, 0, tzinfo=UTC)).astimezone(UTC)
        boxed.set_from(address, moment.timetuple())
        return boxed


def corpus() -> list[Mail]:
    """Three months of a list (one message twice); see the module docstring."""
    jan, feb, mar = "2024-January", "2024-February", "2024-March"
    return [
        Mail("m1@uni.example", "Alice Smith <Alice@Uni.Example>", datetime(2024, 1, 5, 9, tzinfo=UTC),
             "[science] Data release", "We released the data today.\nPlease test it and report back.", jan,
             signature="Alice Smith, Lab of Things"),
        Mail("m2@example.net", "=?iso-8859-1?q?B=F6b_M=FCller?= <bob@example.net>",
             datetime(2024, 1, 6, 10, tzinfo=UTC), "Re: [science] Data release",
             "Grüße from Köln, the files open fine.\n\nOne column is odd though.", jan, reply_to="m1@uni.example",
             attribution="On Fri, 5 Jan 2024, Alice Smith wrote:", quoted="> We released the data today.\n> Please test",
             charset="iso-8859-1", cte="quoted-printable"),
        Mail("m3@uni.example", "alice@uni.example", datetime(2024, 1, 7, 11, tzinfo=UTC),
             "Re: [science] Data release", "Which column looks odd to you?", jan, reply_to="m2@example.net",
             attribution="Bob Müller wrote:", quoted="> One column is odd though.", cte="base64",
             html="<p>Which column looks odd to you?</p><blockquote>One column</blockquote>"),
        Mail("m4@lab.example", "Carol Jones <carol@lab.example>", datetime(2024, 1, 10, 8, tzinfo=UTC),
             "Meeting notes", "Notes of the meeting are below.\nFrom the minutes we see three actions.", jan),
        Mail("m5@lab.example", "Dave <dave@lab.example>", datetime(2024, 2, 2, 8, tzinfo=UTC),
             "Re: Meeting notes", "", feb, reply_to="m4@lab.example", html_only=True,
             html="<div><p>Thanks for the notes, Carol</p><blockquote><p>Notes of the meeting</p></blockquote></div>"),
        Mail("m6@else.example", "Erin <erin@else.example>", datetime(2024, 2, 3, 8, tzinfo=UTC),
             "RE: [science]  data RELEASE", "I second the odd column remark.", feb, reply_to="gone@nowhere.example",
             attribution="On Sat, 3 Feb 2024 at 09:00, Someone <someone@nowhere.example>\nwrote:",
             quoted="> something said elsewhere"),
        Mail("m3@uni.example", "alice@uni.example", datetime(2024, 1, 7, 11, tzinfo=UTC),
             "Re: [science] Data release", "Which column looks odd to you?", feb, reply_to="m2@example.net",
             cte="base64"),  # the same message again, in February's file
        Mail("m7@ru.example", "=?utf-8?b?0KTRkdC00L7RgA==?= <fedor@ru.example>", datetime(2024, 3, 1, 8, tzinfo=UTC),
             "=?utf-8?b?0J3QvtCy0L7RgdGC0Lg=?=", "Привет всем, новости здесь.", mar, charset="koi8-r", cte="8bit"),
        Mail("m8@ru.example", "frank@example.com (Frank)", None, "Re: Новости", "No date on this one.", mar,
             reply_to="m7@ru.example"),
    ]  # fmt: skip


def write_mbox(path: Path, mails: list[Mail]) -> bytes:
    """``mails`` as an mbox written by :class:`mailbox.mbox`; returns its bytes."""
    path.unlink(missing_ok=True)
    box = mailbox.mbox(path)
    for mail in mails:
        box.add(mail.message())
    box.flush()
    box.close()
    return path.read_bytes()


def by_month(mails: list[Mail]) -> dict[str, list[Mail]]:
    months: dict[str, list[Mail]] = {}
    for mail in mails:
        months.setdefault(mail.month, []).append(mail)
    return months


# --- the expected numbers, by another route --------------------------------------------------------


def _subject_key(subject: str) -> str:
    from email.header import decode_header, make_header

    text = str(make_header(decode_header(subject)))
    while True:
        stripped = re.sub(r"(?i)^\s*(re|fwd|aw)\s*:\s*|^\s*\[[^\]]*\]\s*", "", text)
        if stripped == text:
            return " ".join(text.split()).lower()
        text = stripped


def expected_from_files(files: list[Path], mails: list[Mail]) -> dict[str, int]:
    """Messages, threads and people from the raw files (stdlib mailbox, compat32 headers); words and
    characters from the corpus's own sentences of the distinct messages."""
    seen: dict[str, Any] = {}
    for file in files:
        opener = gzip.open if file.name.endswith(".gz") else open
        plain = file.with_suffix(".plain") if file.name.endswith(".gz") else file
        if plain != file:
            with opener(file, "rb") as stream:
                plain.write_bytes(stream.read())
        for message in mailbox.mbox(plain):
            seen.setdefault(message["Message-ID"].strip("<> "), message)
    order = sorted(seen, key=lambda mid: (seen[mid].get_from().split(None, 1)[1], mid))
    parent = {mid: seen[mid]["In-Reply-To"].strip("<> ") for mid in seen if seen[mid]["In-Reply-To"]}
    root: dict[str, str] = {}
    subjects: dict[str, str] = {}
    for mid in order:
        if parent.get(mid) in seen:
            continue
        key = _subject_key(seen[mid]["Subject"])
        looks_reply = mid in parent or re.match(r"(?i)re:", seen[mid]["Subject"])
        root[mid] = subjects[key] if (looks_reply and key in subjects) else mid
        subjects.setdefault(key, root[mid])
    for mid in order:
        current = mid
        while current not in root:
            current = parent[current]
        root[mid] = root[current]
    own = {mail.mid: (mail.own if not mail.html_only else "Thanks for the notes, Carol") for mail in mails}
    texts = [own[mid] for mid in seen]
    return {
        "comments": len(seen),
        "discussions": len(set(root.values())),
        "contributors": len({parseaddr(str(seen[mid]["From"]))[1].lower() for mid in seen}),
        "words": sum(len(text.split()) for text in texts),
        "characters": sum(len(part) for text in texts for part in text.split("\n\n")),
    }


# --- running the CLI ---------------------------------------------------------------------------------------


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = runner.cli(*args, env={"COLUMNS": "200"}, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def summary(data: Path, *extra: str) -> dict[str, Any]:
    return json.loads(cli("summary", str(data), "--json", *extra).stdout)


def fetch(data: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    report = json.loads(cli("fetch", *args, "--data", str(data), "--json").stdout)
    return report, read_snapshot(Path(report["file"]))


KEYS = ("comments", "discussions", "contributors", "words", "characters")


# --- tests -------------------------------------------------------------------------------------------------


def test_own_text_rules() -> None:
    body = (
        "Top line.\r\n>From the escaped line.\r\n\r\n\r\n\r\nMore.\r\n\r\n"
        "On Mon, 1 Jan 2024 at 10:00, Alice <a@b.example>\r\nwrote:\r\n> quoted\r\n>> deeper\r\n"
        "After the quote.\r\nAm 1.1.2024 schrieb Bob:\r\n> zitat\r\n-- \r\nsig line\r\n"
    )
    assert own_text(body) == "Top line.\nFrom the escaped line.\n\nMore.\n\nAfter the quote."
    assert own_text("Reply.\n\n-----Original Message-----\nFrom: x\nold text") == "Reply."
    assert own_text("Le lundi 1 janv. 2024, Chloé a écrit :\n> cité\nRéponse.") == "Réponse."
    assert own_text("I wrote: this is not an attribution.") == "I wrote: this is not an attribution."


def test_split_keeps_unescaped_from_lines_in_their_message() -> None:
    data = (
        b"From a@b.example Mon Jan  1 10:00:00 2024\nMessage-ID: <1@x>\n\nhello\nFrom the minutes, three actions.\n\n"
        b"From c@d.example  Tue Jan  2 10:00:00 2024\nMessage-ID: <2@x>\n\nbye\n"
    )
    [first, second] = parse_mbox(data).messages
    assert first.text == "hello\nFrom the minutes, three actions." and second.text == "bye"
    assert second.date_source == "from_line" and second.date.day == 2


def test_pipermail_addresses_read_back() -> None:
    data = (
        b"From bob at x.example  Mon Jan  1 10:00:00 2024\nFrom: bob at x.example (Bob at Work)\n"
        b"Message-ID: <1 at x.example>\nIn-Reply-To: <0 at x.example>\nSubject: meet at noon\n\nsee you at home\n"
        b"From carol at y.example  Mon Jan  1 11:00:00 2024\nFrom: Carol at Home <CAROL at y.example>\n\nhi\n"
    )
    [bob, carol] = parse_mbox(data, obfuscated=True).messages
    assert (bob.address, bob.name, bob.message_id, bob.parents) == (
        "bob@x.example",
        "Bob at Work",
        "1@x.example",
        ("0@x.example",),
    )
    assert (bob.subject, bob.text) == ("meet at noon", "see you at home")  # only addresses and ids change
    assert (carol.address, carol.name) == ("carol@y.example", "Carol at Home")


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_fetch_mbox_counts_match_the_raw_files(tmp_path: Path) -> None:
    mails = corpus()
    months = by_month(mails)
    first = tmp_path / "jan.mbox"
    write_mbox(first, months["2024-January"])
    rest = tmp_path / "rest.mbox"
    (tmp_path / "rest.mbox.gz").write_bytes(
        gzip.compress(write_mbox(rest, months["2024-February"] + months["2024-March"]))
    )
    rest.unlink()
    files = [first, tmp_path / "rest.mbox.gz"]
    data = tmp_path / "data"
    report, snapshot = fetch(data, "mbox", *map(str, files), "--list", "Science")
    assert report["status"] == "stored" and report["fetched"]["messages"] == len(mails)
    assert (
        snapshot["source"] == "mail" and Path(report["file"]).parent == data / "exports" / "mail" / "Science"
    )
    want = expected_from_files(files, mails)
    got = summary(data)["overall"]
    assert {key: got[key] for key in KEYS} == want
    assert want == {
        "comments": 8,
        "discussions": 3,
        "contributors": 7,
        "words": want["words"],
        "characters": want["characters"],
    }
    profiles = {row["username"]: row for row in snapshot["profiles"]}
    assert profiles["bob@example.net"]["first_name"] == "Böb Müller"  # RFC 2047, ISO-8859-1
    assert profiles["fedor@ru.example"]["first_name"] == "Фёдор"
    assert profiles["frank@example.com"]["first_name"] == "Frank"  # the "addr (Name)" form
    assert "Alice@Uni.Example" not in profiles and "alice@uni.example" in profiles
    bodies = {row["message_id"]: row for row in snapshot["comments"]}
    assert bodies["m4@lab.example"]["body_md"].endswith("From the minutes we see three actions.")
    assert bodies["m2@example.net"]["body_md"] == mails[1].own  # QP, ISO-8859-1, quote and attribution gone
    assert bodies["m1@uni.example"]["body_md"] == mails[0].own  # signature gone
    assert bodies["m5@lab.example"]["body_md"] == "Thanks for the notes, Carol"  # HTML only, blockquote gone
    assert bodies["m8@ru.example"]["date_source"] == "from_line"
    assert bodies["m8@ru.example"]["published"].startswith("2024-03-02T12:00:00")
    assert bodies["m7@ru.example"]["body_md"] == "Привет всем, новости здесь."  # KOI8-R
    # the reply whose parent is missing joined the thread by subject; a person is their address
    assert bodies["m6@else.example"]["thread_id"] == bodies["m1@uni.example"]["thread_id"]
    teamed = summary(data, "--team", "mail:ALICE@uni.example")["overall"]
    assert teamed["non_team_contributors"] == want["contributors"] - 1
    # a period counts the messages dated in it (m8 has no Date: its From line's, 2 March)
    dated = {m.mid: (m.when or datetime(2024, 3, 2, 12, tzinfo=UTC)) for m in mails}
    inside = [
        mid
        for mid, when in dated.items()
        if datetime(2024, 1, 7, tzinfo=UTC) <= when < datetime(2024, 3, 1, tzinfo=UTC)
    ]
    period = summary(data, "--since", "2024-01-07", "--until", "2024-02-29")["overall"]
    assert period["comments"] == len(inside) == 4
    # identities suggest joins a mail account to a Thinklab one of the same full name
    demo = tmp_path / "demo"
    cli("demo", str(demo))
    amara = Mail("a1@uni.example", "Amara Okafor <Amara@Uni.Example>", datetime(2024, 1, 8, tzinfo=UTC), "Hello",
                 "Hello from Amara.", "2024-January")  # fmt: skip
    write_mbox(tmp_path / "amara.mbox", [amara])
    fetch(data, "mbox", str(tmp_path / "amara.mbox"), "--list", "science")
    ids = tmp_path / "ids.yml"
    cli("identities", "suggest", str(data), str(demo), "--out", str(ids))
    assert "mail:amara@uni.example" in ids.read_text() and "thinklab:amara_okafor" in ids.read_text()
    # a second import of the same files changes nothing (same ids, duplicates once)
    again, _ = fetch(data, "mbox", *map(str, files), "--list", "science")
    assert again["status"] == "unchanged"


def test_fetch_mbox_refuses_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    text = tmp_path / "notes.txt"
    text.write_text("Just some notes\nFrom here on\n")
    fifo = tmp_path / "pipe.mbox"
    os.mkfifo(fifo)
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.mbox.gz"
    cut.write_bytes(gzip.compress(b"From a@b Mon Jan  1 10:00:00 2024\n\nhello\n")[:-12])
    cases = (
        (text, "not an mbox"),
        (fifo, "FIFO"),
        (empty, "no messages"),
        (cut, "truncated or corrupt gzip"),
    )
    for path, words in cases:
        result = cli("fetch", "mbox", str(path), "--list", "x", "--data", str(data), check=False)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and str(path) in lines[0]
        assert not data.exists()


@pytest.fixture
def mailman() -> Iterator[tuple[MailmanState, str]]:
    state = MailmanState()
    with serve(state) as url:
        yield state, url


def serve_months(
    state: MailmanState, tmp_path: Path, months: dict[str, list[Mail]], modified: datetime
) -> None:
    for key, mails in months.items():
        state.set_month(key, write_mbox(tmp_path / f"{key}.mbox", mails), modified)


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_pipermail_incremental_and_faults(mailman: tuple[MailmanState, str], tmp_path: Path) -> None:
    state, url = mailman
    mails = corpus()
    months = by_month(mails)
    serve_months(state, tmp_path, months, datetime(2024, 4, 1, tzinfo=UTC))
    state.plan("502", "429", "reset")
    data = tmp_path / "data"
    archive = f"{url}/pipermail/science/"
    start = time.monotonic()
    report, first = fetch(data, "pipermail", "--url", archive, *FAST)
    assert report["fetched"]["downloaded"] == 3 and report["waits"] == 3
    assert time.monotonic() - start < 30
    files = [tmp_path / f"{key}.mbox" for key in months]
    want = expected_from_files(files, mails)
    assert {key: summary(data)["overall"][key] for key in KEYS} == want
    assert all("@" in row["username"] and " at " not in row["username"] for row in first["profiles"])
    assert Path(report["file"]).parent.name == "127.0.0.1_" + url.rsplit(":", 1)[1] + "__science"
    # March gains a reply and April starts: only those two months are downloaded again
    march = months["2024-March"] + [
        Mail("m9@lab.example", "Carol <CAROL@lab.example>", datetime(2024, 3, 20, tzinfo=UTC), "Re: Новости",
             "Late reply in March.", "2024-March", reply_to="m7@ru.example")
    ]  # fmt: skip
    april = [
        Mail("m10@lab.example", "Gus <gus@lab.example>", datetime(2024, 4, 2, tzinfo=UTC), "Re: Meeting notes",
             "Replying across three months.", "2024-April", reply_to="m5@lab.example")
    ]  # fmt: skip
    serve_months(
        state, tmp_path, {"2024-March": march, "2024-April": april}, datetime(2024, 4, 3, tzinfo=UTC)
    )
    state.log.clear()
    report, second = fetch(data, "pipermail", "--url", archive, *FAST)
    assert report["mode"] == "incremental" and report["status"] == "stored"
    assert sorted(state.downloads()) == [
        "/pipermail/science/2024-April.txt.gz",
        "/pipermail/science/2024-March.txt.gz",
    ]
    assert sum(1 for e in state.log if e["status"] == 304) == 2
    everything = mails + march[-1:] + april
    files = [
        tmp_path / f"{key}.mbox" for key in ("2024-January", "2024-February", "2024-March", "2024-April")
    ]
    want = expected_from_files(files, everything)
    assert {key: summary(data)["overall"][key] for key in KEYS} == want
    # ids are stable: every earlier row keeps its id; the April reply joined January's thread
    old = {row["message_id"]: (row["comment_id"], row["thread_id"]) for row in first["comments"]}
    new = {row["message_id"]: (row["comment_id"], row["thread_id"]) for row in second["comments"]}
    assert all(new[mid] == ids for mid, ids in old.items())
    assert new["m10@lab.example"][1] == new["m4@lab.example"][1]
    # a third fetch with nothing new downloads nothing and stores nothing
    state.log.clear()
    report, _ = fetch(data, "pipermail", "--url", archive, *FAST)
    assert report["status"] == "unchanged" and state.downloads() == []
    # --since DATE: the months from DATE's month on are downloaded whatever their ETag says
    state.log.clear()
    report, _ = fetch(data, "pipermail", "--url", archive, "--since", "2024-03-15", *FAST)
    assert report["status"] == "unchanged"
    assert sorted(state.downloads()) == [
        "/pipermail/science/2024-April.txt.gz",
        "/pipermail/science/2024-March.txt.gz",
    ]
    # the merged snapshot equals a full fetch of the same archive (rows, ids, threads, people)
    _, full = fetch(tmp_path / "full", "pipermail", "--url", archive, "--since", "full", *FAST)
    assert all(full[table] == second[table] for table in ("threads", "comments", "profiles"))


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_hyperkitty_months_and_refetch(mailman: tuple[MailmanState, str], tmp_path: Path) -> None:
    state, url = mailman
    mails = [mail for mail in corpus() if mail.when is not None]
    for mail in {mail.mid: mail for mail in mails}.values():
        state.add_hyperkitty(write_mbox(tmp_path / "one.mbox", [mail]), mail.when)  # type: ignore[arg-type]
    state.plan("502", "reset")
    data = tmp_path / "data"
    list_url = f"{url}/hyperkitty/list/{state.fqdn}/"
    report, snapshot = fetch(data, "hyperkitty", "--url", list_url, *FAST)
    exports = [e for e in state.log if e["status"] == 200 and e["path"].endswith(".mbox.gz")]
    now = datetime.now(UTC)
    months = (now.year - 2024) * 12 + now.month  # January 2024 (created_at) to this month
    assert len(exports) == months == report["fetched"]["downloaded"]
    assert exports[0]["path"].endswith("/export/science-2024-01.mbox.gz")
    assert exports[0]["args"] == {"start": "2024-01-01", "end": "2024-02-01"}
    assert exports[11]["args"] == {"start": "2024-12-01", "end": "2025-01-01"}
    files = [tmp_path / "all.mbox"]
    write_mbox(files[0], list({mail.mid: mail for mail in mails}.values()))
    want = expected_from_files(files, mails)
    assert {key: summary(data)["overall"][key] for key in KEYS} == want
    state.log.clear()
    report, again = fetch(data, "hyperkitty", "--url", list_url, *FAST)
    exports = [e for e in state.log if e["status"] == 200 and e["path"].endswith(".mbox.gz")]
    assert 1 <= len(exports) <= 2 and report["status"] == "unchanged"  # only the newest month(s)
    assert again["comments"] == snapshot["comments"]
