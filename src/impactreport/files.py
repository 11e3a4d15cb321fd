"""Reading and writing files safely: never half a file, never through a link, never a FIFO, one lock.

Every output (figures, CSVs, the rendered report, the demo tree, the history cache's manifest) goes
through :func:`atomic_file` (:func:`write_atomic` for bytes at hand): a hidden temporary file in the same
folder (``.<name>.tmp-<random>``, ignored by the loader and by anyone listing outputs), then a rename over
the target. A failed write leaves the previous file in place. Snapshots, which must never be replaced,
are created with :func:`write_new` (a link, not a rename), and every writer below a data folder opens its
folders and files without following a link (:func:`open_folder`, :func:`open_file`). The one lock of a
store or cache is :func:`take_lock`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

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


class NotRegular(Exception):
    """What :func:`read_capped` met instead of a regular file (``kind``: "a named pipe (FIFO)"…)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class OverLimit(Exception):
    """The file holds more than the limit :func:`read_capped` was given."""


def read_capped(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes: the one bounded reader of user files and
    exports (callers turn its exceptions into their own one-line messages).

    Why: a FIFO blocks for ever, ``/dev/zero`` grows until memory runs out. The file is opened without
    blocking (a FIFO opens at once), checked with ``fstat`` on that very descriptor (no race with a swap
    after a check), refused before reading when its size is over the limit, and read no further than it.
    Raises ``OSError`` (open or read), :class:`NotRegular` or :class:`OverLimit`.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise NotRegular(kind)
        if info.st_size > limit:
            raise OverLimit
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise OverLimit
    return data


def read_regular(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """:func:`read_capped` with one-line :class:`InputError` s naming the file and ``what`` it is for."""
    try:
        return read_capped(path, limit)
    except OSError as error:
        raise InputError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    except NotRegular as refused:
        raise InputError(f"{path}: {what} is {refused.kind}, not a regular file") from None
    except OverLimit:
        raise InputError(f"{path}: {what} is larger than {limit:,} bytes") from None


def read_user_text(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A text file the user wrote (team file, identities file): one-line errors naming it and ``what``."""
    try:
        return read_regular(path, what, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: {what} is not UTF-8 text") from None


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


def _is_link_at(folder: int | None, name: str) -> str | None:
    """The target of ``name`` in ``folder`` when it is a symbolic link, else None."""
    try:
        if stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            return os.readlink(name, dir_fd=folder)
    except OSError:
        return None
    return None


def refuse_if_link(folder: int | None, name: str, shown: Path) -> None:
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


def open_file(folder: int | None, name: str, flags: int, shown: Path, mode: int = 0o644) -> int:
    """``os.open`` of ``name`` in the open ``folder`` (a path when None) with ``O_NOFOLLOW``: a link is
    :class:`LinkRefused`, a FIFO or device :class:`SpecialFileRefused` (opened without blocking, so a
    FIFO cannot hang it)."""
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


def no_follow_opener(path: str, flags: int) -> int:
    """``open`` opener: the final component must not be a link, nor a FIFO or device (a manifest read
    back by the store)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise link_refusal(Path(path), os.readlink(path)) from None
        raise
    fd = regular_only(fd, path)
    os.set_blocking(fd, True)
    return fd


def exists_at(folder: int, name: str) -> bool:
    """Whether ``name`` exists in the open ``folder`` (a link counts; it is not followed)."""
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


# --- the one lock -----------------------------------------------------------------------------------


def take_lock(fd: int, *, wait: bool) -> bool:
    """An exclusive ``flock`` on the open lock file ``fd``: the snapshot store's and the history cache's.

    Why ``flock``: the kernel drops it when the holder dies, even by SIGKILL, so no stale lock is ever
    left to clean up. Closing ``fd`` releases it. With ``wait`` False, False when another process holds
    it (the store tells a second run so at once); with ``wait`` True, blocks until it is free.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# --- atomic writes ----------------------------------------------------------------------------------

#: A temporary file of :func:`atomic_file_at` or :func:`write_new` (hidden: the loader skips it).
TEMP_NAME = re.compile(r"^\..+\.tmp-[0-9a-f]+$")


def temporary_name(name: str) -> str:
    """A fresh hidden temporary name beside ``name`` (``.<name>.tmp-<12 hex digits>``)."""
    return f".{name}.tmp-{secrets.token_hex(6)}"


@contextlib.contextmanager
def atomic_file_at(
    folder: int | None, name: str, shown: Path, *, mode: int = 0o644, durable: bool = False
) -> Iterator[BinaryIO]:
    """A file to write ``name`` (in the open ``folder``; a path when ``folder`` is None) through: a new
    hidden temporary file beside it (``O_EXCL``, no link followed, ``mode`` exactly), renamed over
    ``name`` when the block ends; removed instead when the block fails, so the previous ``name`` stays
    whole. ``durable``: fsynced before the rename."""
    head, tail = os.path.split(name)
    temporary = os.path.join(head, temporary_name(tail))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = open_file(folder, temporary, flags, shown.with_name(os.path.basename(temporary)), mode)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            yield file
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """:func:`atomic_file_at` for a path (its folder made when missing): every output file is written so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file_at(None, str(path), path, mode=mode) as file:
        yield file


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file in the same folder, then rename."""
    with atomic_file(path, mode=mode) as file:
        file.write(data)


#: ``link`` errors meaning "this file system has no hard links" (then: rename after a check, under the lock).
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def write_new(folder: int, name: str, data: bytes, shown: Path) -> None:
    """Write a new file ``name`` in the open ``folder`` in one step: hidden temporary file (``O_EXCL``,
    ``O_NOFOLLOW``), fsync, link into place, fsync the folder. The temporary file is removed whatever
    happens.

    ``link`` (not ``rename``) so an existing file, or a link planted under the name, is never replaced:
    a name collision raises FileExistsError instead of silently overwriting a snapshot.
    """
    temp = temporary_name(name)
    fd = open_file(folder, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, shown.with_name(temp))
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            if exists_at(folder, name):  # no hard links here: rename, after checking (we hold the lock)
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(shown)) from None
            os.rename(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
    os.fsync(folder)


def append_line(folder: int, name: str, line: bytes, shown: Path) -> None:
    """Append ``line`` to ``name`` in the open ``folder`` (``O_APPEND``, ``O_NOFOLLOW``), then fsync.

    A write cut short (a full disk) is cut off again: the file keeps exactly its earlier lines. The
    caller serialises appends (one writer holds the lock; its threads share one guard).
    """
    fd = open_file(folder, name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, shown)
    try:
        size = os.fstat(fd).st_size
        try:
            write_all(fd, line)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)
