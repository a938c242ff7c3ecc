"""The demo's output folder, checked before any training and written without ever following a link.

* :func:`open_output` runs first: the folder must be a real directory (not a symbolic link) that exists or can be
  created, and that this process can write (a file is created and removed to prove it); unless ``overwrite``, none
  of the files the run will write may exist yet. Any problem is an :class:`OutputError` naming the folder and why.
* :meth:`OutputFolder.write` writes each file into a new temporary file inside the folder (created exclusively, so
  never through a link) and renames it into place. A rename replaces a symbolic link itself instead of writing
  through it, and a partial file is never visible. Before each write the folder must still be the directory that
  was checked, and without ``overwrite`` a file that appeared meanwhile is not replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = ["OutputError", "OutputFolder", "open_output"]


class OutputError(Exception):
    """The output folder cannot be used (the message names the folder and the reason)."""


class OutputFolder:
    """A checked output folder; see the module docstring. Make one with :func:`open_output`."""

    def __init__(self, path: Path, overwrite: bool, identity: tuple[int, int]) -> None:
        self.path = path
        self.overwrite = overwrite
        self._identity = identity

    def _check_unchanged(self) -> None:
        try:
            st = os.lstat(self.path)
        except OSError as exc:
            raise OutputError(f"output folder {self.path} disappeared during the run ({exc.strerror})") from None
        if stat.S_ISLNK(st.st_mode) or (st.st_dev, st.st_ino) != self._identity:
            raise OutputError(f"output folder {self.path} was replaced during the run; nothing more is written there")

    @contextlib.contextmanager
    def _temporary(self, name: str) -> Iterator[Path]:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=Path(name).suffix)  # O_EXCL
        os.close(fd)
        try:
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def write(self, name: str, writer: Callable[[Path], object]) -> str:
        """Write the file ``name`` in the folder: ``writer(path)`` fills a fresh temporary file, which is then
        renamed to ``name``. Returns the final path as a string."""
        if Path(name).name != name or name in (".", ".."):
            raise OutputError(f"output file name {name!r} must be a plain file name")
        self._check_unchanged()
        final = self.path / name
        with self._temporary(name) as tmp:
            writer(tmp)
            if not self.overwrite and os.path.lexists(final):
                raise OutputError(f"{final} appeared during the run; not replaced (pass --overwrite to replace it)")
            if os.path.isdir(final) and not os.path.islink(final):
                raise OutputError(f"{final} is a directory; not replaced")
            os.replace(tmp, final)  # replaces a link itself, never the file it points to
        return str(final)

    def write_text(self, name: str, text: str) -> str:
        """Write ``text`` (UTF-8) as the file ``name``."""
        return self.write(name, lambda path: path.write_text(text, encoding="utf-8"))


def _create(path: Path) -> None:
    """Create ``path`` and its missing parents; refuse a symbolic link or a non-directory on the way."""
    missing = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise OutputError(f"cannot create output folder {path}: {p} is not a directory")
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot create output folder {path}: {exc.strerror} ({d})") from None


def _probe_writable(path: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".spikekit-demo-probe-")
    except OSError as exc:
        raise OutputError(f"output folder {path} is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def open_output(folder: str | os.PathLike[str], names: Iterable[str], *, overwrite: bool = False) -> OutputFolder:
    """Check (and create if needed) the output folder before the run; ``names`` are the files the run will write.

    Raises:
        OutputError: the folder is a symbolic link or not a directory, cannot be created or written, or (without
            ``overwrite``) already holds some of ``names``, or holds a symbolic link under one of them.
    """
    path = Path(folder)
    if os.path.islink(path):
        raise OutputError(f"output folder {path} is a symbolic link; give the real folder (links are not followed)")
    if not os.path.lexists(path):
        _create(path)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"output folder {path} exists and is not a directory")
    _probe_writable(path)
    present = sorted(n for n in set(names) if os.path.lexists(path / n))
    links = [n for n in present if os.path.islink(path / n)]
    if present and not overwrite:
        raise OutputError(
            f"output folder {path} already holds {', '.join(present)} from an earlier run; pass --overwrite to "
            "replace them, or choose another folder with --out"
        )
    for n in present:
        if os.path.isdir(path / n) and n not in links:
            raise OutputError(f"{path / n} is a directory where the demo writes a file; move it away")
    return OutputFolder(path, overwrite, (st.st_dev, st.st_ino))
