"""The snapshot store's lock: one writing run at a time, and what a killed run left cleaned up.

``DIR/exports/.lock`` is held (:func:`impactreport.files.take_lock`) by the run that writes, re-entrant
within a process; a second run at the same time gets :class:`StoreLocked` with one line naming the
holder. A write that fails for want of room or permission is one line too (:class:`StoreWriteError`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from impactreport.errors import FetchError
from impactreport.files import TEMP_NAME, open_file, open_folder, refuse_if_link, take_lock
from impactreport.layout import EXPORTS_DIR, LOCK_NAME, MANIFEST_NAME


class StoreLocked(FetchError):
    """Another run holds the store's lock."""


class StoreWriteError(FetchError):
    """The store could not be written (read-only, full, not permitted): the whole run stops here."""


@contextlib.contextmanager
def writing(shown: Path, what: str) -> Iterator[None]:
    """Turn an OSError into a one-line :class:`StoreWriteError` naming ``shown`` and the reason."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise StoreWriteError(f"{shown}: cannot write {what} ({reason})") from None


_held: dict[Path, int] = {}
_held_guard = threading.Lock()


def clean_temp_files(exports: Path) -> list[Path]:
    """Remove temporary files left by a killed run (only call while holding the lock).

    Links are neither followed nor removed; a file that cannot be removed stays (the loader ignores it).
    """
    removed: list[Path] = []
    for folder, dirs, names in os.walk(exports):  # os.walk does not enter linked folders
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(folder, name))]
        for name in names:
            path = Path(folder) / name
            if TEMP_NAME.match(name) and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _open_lock(data_dir: Path) -> int:
    """Open (create) ``DIR/exports/.lock`` without following a link; refuse a linked manifest too, so a
    run stops before it fetches anything it could not store."""
    exports = data_dir / EXPORTS_DIR
    with writing(exports, "the store folder"):
        folder = open_folder(data_dir, (EXPORTS_DIR,), create=True)
    try:
        refuse_if_link(folder, MANIFEST_NAME, exports / MANIFEST_NAME)
        with writing(exports / LOCK_NAME, "the store's lock"):
            return open_file(folder, LOCK_NAME, os.O_RDWR | os.O_CREAT, exports / LOCK_NAME)
    finally:
        os.close(folder)


@contextlib.contextmanager
def store_lock(data_dir: str | Path) -> Iterator[Path]:
    """Hold ``DIR/exports/.lock`` for the duration (re-entrant within a process); yields DIR/exports.

    A second run at the same time gets :class:`StoreLocked` with one line naming the holder. The kernel
    drops the lock when the holder dies, even by SIGKILL; temporary files it left are removed here.
    A link at ``exports``, the lock or the manifest is :class:`LinkRefused`; a store that cannot be
    written (read-only) is :class:`StoreWriteError`.
    """
    exports = Path(data_dir).resolve() / EXPORTS_DIR
    with _held_guard:
        if exports in _held:
            _held[exports] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield exports
        finally:
            with _held_guard:
                _held[exports] -= 1
        return
    fd = _open_lock(Path(data_dir))
    if not take_lock(fd, wait=False):
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StoreLocked(
            f"{exports} is being written by another fetch ({holder}); try again when it has finished"
        ) from None
    try:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with contextlib.suppress(OSError):  # who holds it is only said to a second run: best effort
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, since {stamp}\n".encode(), 0)
        clean_temp_files(exports)
        with _held_guard:
            _held[exports] = 1
        yield exports
    finally:
        with _held_guard:
            _held.pop(exports, None)
        os.close(fd)  # closing releases the flock
