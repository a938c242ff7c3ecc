"""Whether a cache directory may be trusted: the checks shared by the kernel cache
(:mod:`spikekit_kernels.build_cache`) and the ``compiled`` backend's torch.compile caches.

A cache holds code that this process will load (shared libraries, generated Python modules), so only a directory
that no one else can change is used. :func:`private_dir` checks the path with ``lstat`` (never following a link
before it has checked the link itself), component by component, and then the directory it resolves to:

* every directory on the way (the path as written and the path a link leads to) must be owned by this user or by
  root, and must not be writable by group or others unless it has the sticky bit (as the shared temporary folder
  has): in a folder others can write without it, anyone can rename or replace the entries;
* a symbolic link on the way must be owned by this user or by root: a link in a shared sticky folder owned by
  someone else points wherever its owner chooses;
* the cache directory itself must be this user's and writable by no one else.

Missing directories are created with mode 0700 (whatever the umask) and :func:`private_dir` says which ones it
created; nothing that exists already is ever changed (no ``chmod``). A refused path raises :class:`Refused` with the
reason; callers warn and run without the cache.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["Refused", "private_dir", "check_owned", "uid"]


class Refused(Exception):
    """The cache directory or a file in it fails the ownership / permission check: nothing there is used."""


def uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None


def check_owned(st: os.stat_result, path: Path | str, what: str) -> None:
    """Refuse ``path`` unless this user owns it and neither group nor others may write it."""
    me = uid()
    if me is not None and st.st_uid != me:
        raise Refused(f"{what} {path} is owned by uid {st.st_uid}, not by this user (uid {me})")
    if st.st_mode & 0o022:
        who = " and ".join(w for bit, w in ((0o020, "group"), (0o002, "others")) if st.st_mode & bit)
        raise Refused(f"{what} {path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):o})")


def _check_ancestor(st: os.stat_result, path: Path) -> None:
    """A directory on the way to the cache: root's or ours, and not writable by others unless sticky."""
    me = uid()
    if me is not None and st.st_uid not in (me, 0):
        raise Refused(f"folder {path} on the cache's path is owned by uid {st.st_uid}, not by this user or root")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise Refused(
            f"folder {path} on the cache's path is writable by others without the sticky bit "
            f"(mode {stat.S_IMODE(st.st_mode):o}): anyone may replace what is in it"
        )


def _walk(path: Path, depth: int = 0) -> Path:
    """Check every existing component of the absolute ``path`` with ``lstat``; follow links only after checking
    them. Returns the path with the links resolved (its missing tail unchanged)."""
    if depth > 40:
        raise Refused(f"cache path {path} has too many levels of symbolic links")
    parts = path.parts
    here = Path(parts[0])
    for k, part in enumerate(parts[1:], start=1):
        st_parent = os.lstat(here)
        _check_ancestor(st_parent, here)
        nxt = here / part
        try:
            st = os.lstat(nxt)
        except FileNotFoundError:
            return nxt.joinpath(*parts[k + 1 :])
        if stat.S_ISLNK(st.st_mode):
            me = uid()
            if me is not None and st.st_uid not in (me, 0):
                raise Refused(f"cache path {nxt} is a symbolic link owned by uid {st.st_uid}, not by this user")
            target = Path(os.path.normpath(here / os.readlink(nxt)))
            return _walk(target.joinpath(*parts[k + 1 :]), depth + 1)
        if not stat.S_ISDIR(st.st_mode):
            raise Refused(f"cache path {nxt} is not a directory")
        here = nxt
    return here


def private_dir(path: Path) -> tuple[Path, list[Path]]:
    """Check ``path`` (see the module docstring), create what is missing (mode 0700) and return the directory it
    names, with links resolved, and the directories this call created."""
    real = _walk(Path(os.path.abspath(path)))
    created = []
    missing = []
    p = real
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)  # never wider than 0700, whatever the umask
            created.append(d)
    if missing:
        real = _walk(real)  # what was created, checked like the rest
    st = os.lstat(real)
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"cache path {real} is not a directory")
    check_owned(st, real, "cache directory")
    return real, created
