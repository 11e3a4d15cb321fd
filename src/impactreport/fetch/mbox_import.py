"""Import local mbox files (plain or ``.gz``) into one list's snapshot: ``impactreport fetch mbox``.

Files are read whole but bounded: only regular files (a FIFO or a device could block or never end:
refused with one line), each within the export size limit before and after gunzip
(:func:`impactreport.load.read.read_stored`, :func:`~impactreport.load.read.gunzip`). Every file is
read and parsed before anything is stored, so a bad file stores nothing.

A later import into the same list adds to its newest snapshot (``--since auto``): messages already
there are kept, a Message-ID seen again counts once. ``--since full`` makes the snapshot hold exactly
the files given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impactreport.capped import gunzip, is_gzip, max_export_bytes, read_stored
from impactreport.errors import InputError
from impactreport.fetch import mail_mapping
from impactreport.fetch.mbox import MailMessage, NotAnMbox, parse_mbox
from impactreport.fetch.ratelimits import Reporter
from impactreport.fetch.sync import Since, Snapshot
from impactreport.files import special_kind


def read_mbox_file(path: Path) -> bytes:
    """A local mbox file's bytes (gunzipped when gzip); one-line :class:`InputError` otherwise.

    The kind is checked first for the wording ("is a named pipe (FIFO), not an mbox file");
    :func:`~impactreport.load.read.read_stored` checks it again on the opened descriptor (never
    blocking on a FIFO), so a file swapped in between is refused too.
    """
    try:
        kind = special_kind(os.stat(path).st_mode)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    if kind is not None:
        raise InputError(f"{path}: is {kind}, not an mbox file (plain or .gz)")
    limit = max_export_bytes()
    stored = read_stored(path, limit)
    return gunzip(path, stored, limit) if is_gzip(path, stored) else stored


def read_mbox_files(paths: Sequence[Path]) -> tuple[list[MailMessage], int]:
    """Every message of every file (``archive`` = the file's name) and how many had no date at all."""
    messages: list[MailMessage] = []
    undated = 0
    for path in paths:
        data = read_mbox_file(path)
        try:
            parsed = parse_mbox(data, archive=path.name)
        except NotAnMbox as error:
            raise InputError(f"{path}: {error}") from None
        messages.extend(parsed.messages)
        undated += parsed.undated
    return messages, undated


@dataclass
class MboxImport:
    """Already-read messages of one list, as a :class:`~impactreport.fetch.sync.Source`."""

    source = "mail"

    name: str
    messages: list[MailMessage]
    files: int = 0
    undated: int = 0
    reporter: Reporter = field(default_factory=Reporter)

    @property
    def options(self) -> dict[str, Any]:
        return {"archive": "mbox"}

    def projects(self) -> list[str]:
        return [self.name]

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        self.reporter.stage("messages", None)
        messages = list(self.messages)
        if since.previous is not None:  # an import adds to what the list holds
            messages = mail_mapping.messages_from_rows(since.previous) + messages
        payload = mail_mapping.snapshot(messages, "", list={"url": "", "kind": "mbox"}, options=self.options)
        self.reporter.advance(len(self.messages))
        details = {"files": self.files, "messages": len(self.messages), "undated": self.undated}
        counts = {"threads_fetched": len(payload["threads"]), "fetched": details}
        yield Snapshot(payload=payload, details=counts)
