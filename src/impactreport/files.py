"""Writing output files so a reader never sees half of one.

Every output (figures, CSVs, the rendered report) goes through :func:`write_atomic`: a hidden temporary file
in the same folder (ignored by the loader and by anyone listing outputs), then a rename over the target. A
failed write leaves the previous file in place. Snapshots, which must never be replaced, have their own
stricter writer in :mod:`impactreport.fetch.store`, built on the no-follow primitives at the end of this
module (:func:`open_folder`, :func:`open_file`).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from impactreport.errors import InputError

#: A text file the user wrote (team file, identities, login file, a manifest) is never larger than this.
MAX_TEXT_BYTES = 16 << 20

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file is ("a named pipe (FIFO)"), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; one-line :class:`InputError` otherwise.

    Why: a FIFO given as a team file blocks for ever, ``/dev/zero`` grows until memory runs out. The
    file is opened without blocking (a FIFO opens at once), checked with ``fstat`` on that very
    descriptor (no race with a swap after a check), and read no further than the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise InputError(f"{path}: {what} is {kind}, not a regular file")
        if info.st_size > limit:
            raise InputError(f"{path}: {what} is larger than {limit:,} bytes")
        try:
            data = stream.read(limit + 1)
        except OSError as error:
            raise InputError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    if len(data) > limit:
        raise InputError(f"{path}: {what} is larger than {limit:,} bytes")
    return data


def read_user_text(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A text file the user wrote (team file, identities file): one-line errors naming it and ``what``."""
    try:
        return read_regular(path, what, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: {what} is not UTF-8 text") from None


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- writing below a data folder without following symbolic links ---------------------------------
#
# Why: a data folder is committed to git (which checks symbolic links out as links) and shared between
# runs; a link planted anywhere below it (``exports``, a project folder, the lock, the manifest) must
# not redirect a write outside it. Every folder below the data folder is opened relative to its
# parent's descriptor with ``O_NOFOLLOW`` and every file with ``O_NOFOLLOW`` (``O_EXCL`` for new
# ones), so no check-then-use race is left. The data folder itself is the user's choice and may be a
# link.

FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LinkRefused(InputError):
    """A symbolic link where the store writes: refused, one line naming the link and its target."""


def link_refusal(shown: Path, target: str) -> LinkRefused:
    """The one-line refusal for the link at ``shown`` (the path as the user would write it)."""
    return LinkRefused(f"{shown} is a symbolic link (to {target}): refusing to write through it")


def _is_link_at(folder: int, name: str) -> str | None:
    """The target of ``name`` in ``folder`` when it is a symbolic link, else None."""
    try:
        if stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            return os.readlink(name, dir_fd=folder)
    except OSError:
        return None
    return None


def refuse_if_link(folder: int, name: str, shown: Path) -> None:
    """Raise :class:`LinkRefused` when ``name`` in the open ``folder`` is a symbolic link."""
    target = _is_link_at(folder, name)
    if target is not None:
        raise link_refusal(shown, target)


def check_no_links(base: Path, parts: Sequence[str]) -> None:
    """Refuse a symbolic link among the existing components ``base/parts[0]/...`` (``base`` may be one).

    For early, friendly refusals before any work; the writes themselves are guarded by
    :func:`open_folder` and :func:`open_file`, which leave no race.
    """
    current = base
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        except OSError:
            return  # not ours to judge here: the write will say what is wrong
        if stat.S_ISLNK(mode):
            raise link_refusal(current, os.readlink(current))


def open_folder(base: Path, parts: Sequence[str], *, create: bool) -> int:
    """A descriptor of ``base/parts...``, each part opened without following a link (created if missing
    when ``create``, its parent then fsynced so a crash cannot lose the entry). The caller closes it.

    Raises :class:`LinkRefused` for a link, FileNotFoundError for a missing part (``create`` False), and
    other OSErrors as they come (the caller names them).
    """
    if create:
        base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    shown = base
    try:
        for part in parts:
            shown = shown / part
            try:
                child = os.open(part, FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # made meanwhile (or a link made meanwhile: the open below refuses it)
                else:
                    os.fsync(fd)
                child = _open_folder_at(fd, part, shown)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    refuse_if_link(fd, part, shown)
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_folder_at(folder: int, name: str, shown: Path) -> int:
    try:
        return os.open(name, FOLDER_FLAGS, dir_fd=folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            refuse_if_link(folder, name, shown)
        raise


class SpecialFileRefused(InputError):
    """A FIFO, device or socket where a file is read or written: refused, one line naming it."""


def regular_only(fd: int, shown: Path | str) -> int:
    """``fd`` when it is a regular file; else it is closed and :class:`SpecialFileRefused` raised."""
    kind = special_kind(os.fstat(fd).st_mode)
    if kind is None:
        return fd
    os.close(fd)
    raise SpecialFileRefused(f"{shown}: is {kind}, not a regular file; refusing it")


def open_file(folder: int, name: str, flags: int, shown: Path, mode: int = 0o644) -> int:
    """``os.open`` of ``name`` in the open ``folder`` with ``O_NOFOLLOW``: a link is :class:`LinkRefused`,
    a FIFO or device :class:`SpecialFileRefused` (opened without blocking, so a FIFO cannot hang it)."""
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_if_link(folder, name, shown)
        raise
    fd = regular_only(fd, shown)
    os.set_blocking(fd, True)
    return fd


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (a short write is retried; a full disk raises ENOSPC)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]
