"""Where every cache goes: the user's cache folder, never the data read, and its private sub-folders.

Why one module: the history's tables, the figures, the prepared report and the counted periods
(:mod:`impactreport.memo`) each keep derived files; they must agree on one place (``--cache-dir``,
``$IMPACTREPORT_CACHE_DIR``, ``$XDG_CACHE_HOME/impactreport``, ``~/.cache/impactreport``) and on one
way to make a folder there that only this user can read (0o700, parents included).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import tempfile
from pathlib import Path

#: Where every cache goes (the history caches in its ``history`` folder); ``--cache-dir`` sets it.
CACHE_HOME_ENV = "IMPACTREPORT_CACHE_DIR"


def cache_home() -> Path:
    """The folder holding every cache: ``$IMPACTREPORT_CACHE_DIR``, else ``$XDG_CACHE_HOME/impactreport``,
    else ``~/.cache/impactreport`` (made absolute: a later change of working folder must not move it)."""
    configured = os.environ.get(CACHE_HOME_ENV)
    if configured:
        return Path(os.path.abspath(configured))
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG rule: a relative value is ignored
        return Path(xdg) / "impactreport"
    return _home() / ".cache" / "impactreport"


def _home() -> Path:
    """The user's home folder: ``$HOME`` when it is an absolute path, else the account's home from the
    password database, else a per-user folder under the system's temporary folder (an empty ``HOME``
    once put the cache in ``/.cache``)."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home) and home != "/":
        return Path(home)
    try:
        recorded = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        recorded = ""
    if os.path.isabs(recorded) and recorded != "/":
        return Path(recorded)
    return Path(tempfile.gettempdir()) / f"impactreport-{os.getuid()}"


def private_folders(path: Path) -> None:
    """Create ``path`` and its missing parents with mode 0o700 (``mkdir(parents=True)`` would give
    the parents the default mode)."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current.parent != current:
        missing.append(current)
        current = current.parent
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o700)


def private_folder(*parts: str) -> Path | None:
    """``<cache home>/<parts>``, created with every missing folder 0o700, or None when it is not ours to
    use (a symbolic link, not a folder, another user's) or cannot be made. The one way the caches
    beside the history's (the prepared report, the figures) get their folder."""
    where = cache_home().joinpath(*parts)
    try:
        private_folders(where)
        info = os.lstat(where)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return None
    return where
