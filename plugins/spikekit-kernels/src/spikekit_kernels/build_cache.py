"""Build and load the C time loops (``lif_kernels.c``) with the system C compiler: one small shared library per
configuration, compiled at first use and cached on disk.

Each configuration (dtype, the model's flag bits, spike kind, surrogate kind) is compiled with
``cc -O3 -march=native -ffp-contract=off -fno-math-errno -fPIC -shared -pthread`` and the configuration as macros,
so that every branch of the inner loop is resolved at compile time and the loop over neurons vectorises (about 0.3 s
per configuration, once per machine). Where torch runs on GNU OpenMP (its Linux wheels), ``-fopenmp`` is added, so
that the loops share torch's own OpenMP threads (see :func:`_openmp_flags`); otherwise they start their own. There
are no Python or torch headers, so there is no build dependency beyond a C compiler. Not used: ``-ffast-math`` or any
of its parts that change values (``-fassociative-math``, ``-freciprocal-math``, ``-ffinite-math-only``,
``-fno-signed-zeros``), nor ``-fno-trapping-math``; ``-fno-math-errno`` only lets the compiler inline
``rint``/``fabs``/``copysign`` (no value changes). ``-march=native`` is safe because the cache key includes this
CPU's model and feature flags.

The cache is a trust boundary: loading a shared library runs its constructors inside this process, so nothing is
loaded from it unchecked.

* The cache path is checked with ``lstat`` before anything in it is used (:mod:`spikekit_kernels.cache_trust`): a
  path through a symbolic link owned by someone else, or through a folder others can write without the sticky bit,
  is refused, as is a directory, library or digest file owned by another user or writable by group or others. A
  refusal warns (naming the path and the reason) and the fused backend runs its pure-torch loop (same results,
  slower). Missing directories are created private (mode 0700); nothing that exists is ever ``chmod``-ed. Files
  are opened without following symbolic links and checked on the open file (``fstat``).
* Each build writes the SHA-256 of the library next to it (``<name>.so.sha256``). Before ``dlopen`` the library's
  bytes are read from the checked file descriptor and must match that digest; the library is then loaded through
  the same descriptor (``/proc/self/fd``), so the bytes checked are the bytes loaded. A missing, truncated, corrupt
  or mismatching library is rebuilt (with a warning), never loaded.
* Each library carries its configuration (``spikekit_kernels_config()``, a small extra compilation unit generated
  here from the same ``-D`` macros that specialise ``lif_kernels.c``); after loading it must equal the requested
  one, together with ``config_flags()`` from ``lif_kernels.c`` itself and the argument struct's size. A library
  built for another configuration is rebuilt.
* Builds run in a private temporary folder inside the cache under an inter-process lock and move into place with
  atomic renames, so concurrent processes never see a partial file and build each configuration once. Each build
  folder is recorded (``.builds``) while it exists; folders left by killed builds are removed at the next use of the
  cache, and only those: nothing the cache did not create is deleted.

When no compiler is found, :func:`library` returns None and the fused backend runs its pure-torch loop instead
(same results, slower), after one warning.

Environment:
    ``SPIKEKIT_KERNELS_NO_CC=1`` skips the compiled loop (forces the pure-torch loop).
    ``SPIKEKIT_KERNELS_CACHE`` sets the cache directory (default ``~/.cache/spikekit-kernels``).
    ``CC`` chooses the compiler, parsed as a command line (``CC="ccache gcc"`` works); default ``cc``, then
    ``gcc``, ``clang``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from spikekit_kernels import c_abi
from spikekit_kernels.cache_trust import Refused, check_owned, private_dir, uid

__all__ = ["library", "library_path", "available", "cache_dir"]

_SOURCE = Path(__file__).with_name("lif_kernels.c")
_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fPIC", "-shared", "-pthread"]
_openmp: list[str] | None = None  # ["-fopenmp"] when the loops may run on torch's OpenMP threads (see _openmp_flags)
_LAYOUT = "2"  # version of the cache layout (digest files, config symbol); part of every library's name
_MAX_LIBRARY_BYTES = 64 << 20  # a bigger file in the cache is not one of ours
_lock = threading.Lock()
_libs: dict[tuple, ctypes.CDLL | None] = {}
_compiler_checked = False
_cc_cmd: list[str] | None = None
_held_fds: list[int] = []  # descriptors of loaded libraries (see _dlopen_fd)
_cleaned: set[str] = set()  # cache directories whose stale build folders this process has removed

# The configuration identity, compiled from the same -D macros as lif_kernels.c (a separate compilation unit, so
# the loop's source stays as it is); library() compares it with the requested configuration after loading.
_CONFIG_SOURCE = """\
#define SPIKEKIT_STR_(x) #x
#define SPIKEKIT_STR(x) SPIKEKIT_STR_(x)
const char *spikekit_kernels_config(void) {
    return "REAL=" SPIKEKIT_STR(REAL) " FLAGS=" SPIKEKIT_STR(FLAGS) " SPK=" SPIKEKIT_STR(SPK) " SG=" SPIKEKIT_STR(SG)
           " BUILD=" SPIKEKIT_STR(SPIKEKIT_BUILD);
}
"""


def _compiler() -> list[str] | None:
    """The compiler as a command line (``$CC`` split like a shell would, then cc, gcc, clang), or None."""
    candidates: list[list[str]] = []
    raw = os.environ.get("CC", "").strip()
    if raw:
        try:
            candidates.append(shlex.split(raw))
        except ValueError:
            warnings.warn(f"spikekit-kernels: cannot parse CC={raw!r} as a command line; ignoring it", stacklevel=3)
    candidates += [["cc"], ["gcc"], ["clang"]]
    for argv in candidates:
        exe = shutil.which(argv[0]) if argv else None
        if exe:
            return [exe, *argv[1:]]
    return None


def _openmp_flags() -> list[str]:
    """``["-fopenmp"]`` when the libraries can run their threads on torch's own OpenMP runtime, else ``[]``.

    That is when torch's CPU parallel backend is OpenMP and GNU's ``libgomp.so.1`` is already loaded in this process
    (torch's Linux wheels ship and load it): a library linked with ``-fopenmp`` then binds to that same copy (the
    dynamic loader reuses a loaded soname), so its parallel loops run on torch's thread team, whose threads are
    started and spin-wait for work after each torch op. Threads of its own (the fallback, pthreads) compete with those
    spinning threads for the cores: a LIF layer's forward+backward measured about 25 % slower at 2 threads."""
    global _openmp
    if _openmp is None:
        try:
            import torch

            with open("/proc/self/maps") as f:
                loaded = any(line.rstrip().endswith("/libgomp.so.1") for line in f)
            _openmp = ["-fopenmp"] if loaded and "backend: OpenMP" in torch.__config__.parallel_info() else []
        except (OSError, ImportError):
            _openmp = []
    return _openmp


def _cpu_id() -> str:
    """This CPU's model and feature flags (a library built with -march=native runs only where these match)."""
    try:
        with open("/proc/cpuinfo") as f:
            keep = [ln for ln in f.read().splitlines() if ln.split(":")[0].strip() in ("model name", "flags")]
        return "\n".join(sorted(set(keep)))
    except OSError:
        return platform.machine() + platform.processor()


_CPU = _cpu_id()


def available() -> bool:
    """Whether the compiled loop may be used (a C compiler exists and it is not disabled); warns once if not."""
    global _compiler_checked, _cc_cmd
    if os.environ.get("SPIKEKIT_KERNELS_NO_CC", "") not in ("", "0"):
        return False
    if not _compiler_checked:
        with _lock:
            if not _compiler_checked:
                _cc_cmd = _compiler()
                if _cc_cmd is None:
                    warnings.warn(
                        "spikekit-kernels: no C compiler found (tried $CC, cc, gcc, clang); the fused-cpu backend "
                        "uses its pure-torch loop instead (same results, slower)",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                _compiler_checked = True
    return _cc_cmd is not None


# ------------------------------------------------------------------------------------------- the cache's checks
class _Stale(Exception):
    """A library that must be (re)built: missing, or not what its build recorded. ``quiet``: nothing odd happened."""

    def __init__(self, reason: str, *, quiet: bool = False):
        super().__init__(reason)
        self.quiet = quiet


def cache_dir() -> Path:
    """The cache directory: ``$SPIKEKIT_KERNELS_CACHE`` or ``~/.cache/spikekit-kernels``."""
    env = os.environ.get("SPIKEKIT_KERNELS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "spikekit-kernels"


def _open_checked(path: Path, what: str, *, quiet_missing: bool = False) -> int:
    """A read-only descriptor of the regular file ``path`` (no symbolic link), checked with ``fstat``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _Stale(f"{what} {path} does not exist", quiet=quiet_missing) from None
    except OSError as exc:  # ELOOP: a symbolic link where a file of ours belongs
        if os.path.islink(path):
            raise Refused(f"{what} {path} is a symbolic link") from None
        raise Refused(f"{what} {path} cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{what} {path} is not a regular file")
        check_owned(st, path, what)
        if st.st_size > _MAX_LIBRARY_BYTES:
            raise _Stale(f"{what} {path} is {st.st_size} bytes, more than any library of ours")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """An exclusive inter-process lock on the cache (``.lock``), held while a library is checked or built."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: the atomic renames still keep every file whole
        yield
        return
    path = cache / ".lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise Refused(f"lock file {path} cannot be opened ({exc.strerror})") from None
    try:
        check_owned(os.fstat(fd), path, "lock file")
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


_RECORD = ".builds"  # names of the build folders this cache created and has not yet removed


def _recorded(cache: Path) -> list[str]:
    """The build folders recorded in the cache (an empty list when there is no record)."""
    try:
        fd = os.open(cache / _RECORD, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise Refused(f"build record {cache / _RECORD} cannot be opened ({exc.strerror})") from None
    try:
        check_owned(os.fstat(fd), cache / _RECORD, "build record")
        names = _read_fd(fd)[: 1 << 16].decode(errors="replace").split()
    finally:
        os.close(fd)
    return [n for n in names if n.startswith(".build-") and "/" not in n]


def _write_record(cache: Path, names: list[str]) -> None:
    """Replace the record atomically (a private temporary file renamed over it)."""
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".builds-")  # mode 0600
    with os.fdopen(fd, "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.replace(tmp, cache / _RECORD)


def _clean_stale_builds(cache: Path) -> None:
    """Remove the build folders of killed builds: those the record names (under the lock no build of ours is
    running) that are still directories of this user. Nothing else is deleted. Once per process."""
    if str(cache) in _cleaned:
        return
    _cleaned.add(str(cache))
    names = _recorded(cache)
    for name in names:
        folder = cache / name
        with contextlib.suppress(FileNotFoundError):
            st = os.lstat(folder)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == uid():
                shutil.rmtree(folder, ignore_errors=True)
    if names:
        _write_record(cache, [])


# ------------------------------------------------------------------------------------------- naming and building
def _build_id() -> str:
    """What every library of this cache layout, source, compiler and CPU shares (part of names and configs)."""
    h = hashlib.sha256(_SOURCE.read_bytes() + _CONFIG_SOURCE.encode() + _LAYOUT.encode())
    h.update(" ".join(_FLAGS + _openmp_flags()).encode() + _CPU.encode() + "\0".join(_cc_cmd or []).encode())
    return h.hexdigest()[:12]


def _defines(real: str, config: tuple[int, int, int], build: str) -> list[str]:
    flags, spike_kind, sg_kind = config
    return [
        f"-DREAL={real}",
        f"-DFLAGS={flags}",
        f"-DSPK={spike_kind}",
        f"-DSG={sg_kind}",
        f"-DSPIKEKIT_BUILD=b{build}",
    ]


def _identity(real: str, config: tuple[int, int, int], build: str) -> str:
    """What ``spikekit_kernels_config()`` returns in a library built by :func:`_build` for ``config``."""
    flags, spike_kind, sg_kind = config
    return f"REAL={real} FLAGS={flags} SPK={spike_kind} SG={sg_kind} BUILD=b{build}"


def _name(real: str, config: tuple[int, int, int], build: str) -> str:
    flags, spike_kind, sg_kind = config
    return f"lif-{build}-{real}-f{flags}-s{spike_kind}-g{sg_kind}.so"


def library_path(real: str, flags: int, spike_kind: int, sg_kind: int) -> Path | None:
    """Where the library for this configuration lives in the cache (None without a compiler)."""
    if not available():
        return None
    return cache_dir() / _name(real, (flags, spike_kind, sg_kind), _build_id())


def _build(cache: Path, real: str, config: tuple[int, int, int]) -> None:
    """Compile ``config`` into a private folder, record its digest, and move both into the cache atomically."""
    assert _cc_cmd is not None
    build = _build_id()
    name = _name(real, config, build)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".build-"))  # mode 0700
    _write_record(cache, [*_recorded(cache), tmp.name])  # removed by the next process if this one is killed
    try:
        (tmp / "config_id.c").write_text(_CONFIG_SOURCE)
        out = tmp / name
        cmd = [*_cc_cmd, *_FLAGS, *_defines(real, config, build), str(_SOURCE), str(tmp / "config_id.c")]
        cmd += ["-o", str(out), "-lm"]
        # the cache is per CPU, so tune for this one (SIMD width, rounding instructions) where possible; without
        # an OpenMP library to link against, the loops start threads of their own
        omp = _openmp_flags()
        tries = ([[*omp, "-march=native"], omp] if omp else []) + [["-march=native"], []]
        for k, extra in enumerate(tries):
            try:
                subprocess.run([*cmd, *extra], check=True, capture_output=True, timeout=120)
                break
            except subprocess.CalledProcessError:
                if k == len(tries) - 1:
                    raise
        os.chmod(out, 0o500)
        digest = tmp / (name + ".sha256")
        digest.write_text(hashlib.sha256(out.read_bytes()).hexdigest() + "\n")
        os.chmod(digest, 0o400)
        os.replace(digest, cache / digest.name)  # atomic; the lock keeps the pair consistent for readers
        os.replace(out, cache / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        _write_record(cache, [n for n in _recorded(cache) if n != tmp.name])


# ------------------------------------------------------------------------------------------------------ loading
def _load(cache: Path, real: str, config: tuple[int, int, int]) -> ctypes.CDLL:
    """Load the cached library for ``config`` after checking its file and digest, then check its configuration.

    Raises Refused (unsafe file: do not use it) or _Stale (rebuild it)."""
    build = _build_id()
    path = cache / _name(real, config, build)
    fd = _open_checked(path, "library", quiet_missing=True)  # not built yet
    try:
        content = _read_fd(fd)
        dfd = _open_checked(Path(str(path) + ".sha256"), "digest file")
        try:
            recorded = _read_fd(dfd)[:200].decode(errors="replace").strip()
        finally:
            os.close(dfd)
        actual = hashlib.sha256(content).hexdigest()
        if actual != recorded:
            raise _Stale(f"library {path} ({len(content)} bytes) does not match the digest recorded when it was built")
        lib = _dlopen_fd(fd, path)
    except BaseException:
        os.close(fd)
        raise
    _check_config(lib, path, real, config, build)
    return lib


def _dlopen_fd(fd: int, path: Path) -> ctypes.CDLL:
    """dlopen the open descriptor ``fd`` (the bytes just checked), not the name, where ``/proc`` allows it.

    The descriptor stays open for the life of the process: the dynamic loader knows a library by the name it was
    opened under, and a reused descriptor number would make it hand back the earlier library."""
    proc = f"/proc/self/fd/{fd}"
    by_fd = os.path.exists(proc)
    try:
        lib = ctypes.CDLL(proc if by_fd else str(path))
    except OSError as exc:  # not a loadable library, though it matches its digest
        raise _Stale(f"library {path} cannot be loaded ({exc})") from None
    if by_fd:
        _held_fds.append(fd)
    else:
        os.close(fd)
    return lib


def _check_config(lib: ctypes.CDLL, path: Path, real: str, config: tuple[int, int, int], build: str) -> None:
    """Raise _Stale unless the loaded library is the requested configuration, with our argument struct."""
    try:
        lib.spikekit_kernels_config.restype = ctypes.c_char_p
        got = lib.spikekit_kernels_config().decode(errors="replace")
        flags = lib.config_flags()
    except AttributeError as exc:
        raise _Stale(f"library {path} lacks a symbol of ours ({exc})") from None
    want = _identity(real, config, build)
    if got != want or flags != config[0]:
        raise _Stale(f"library {path} was built for configuration {got!r} (flags {flags}), expected {want!r}")
    unfit = c_abi.bind(lib, real)
    if unfit is not None:
        raise _Stale(f"library {path}: {unfit}")


def _load_or_build(real: str, config: tuple[int, int, int]) -> ctypes.CDLL:
    cache, _created = private_dir(cache_dir())
    with _locked(cache):
        _clean_stale_builds(cache)
        try:
            return _load(cache, real, config)
        except _Stale as why:
            if not why.quiet:
                warnings.warn(f"spikekit-kernels: {why}; rebuilding it", RuntimeWarning, stacklevel=4)
        _build(cache, real, config)
        return _load(cache, real, config)


def library(real: str, flags: int, spike_kind: int, sg_kind: int) -> ctypes.CDLL | None:
    """The compiled loop for one configuration (``real`` is ``"float"`` or ``"double"``), built on first use;
    None when it cannot be built or loaded safely (warns once per configuration) or no compiler is available."""
    key = (real, flags, spike_kind, sg_kind)
    lib = _libs.get(key, False)
    if lib is not False:
        return lib  # type: ignore[return-value]
    if not available():
        return None
    with _lock:
        if key in _libs:
            return _libs[key]
        try:
            _libs[key] = _load_or_build(real, key[1:])
        except Refused as exc:
            warnings.warn(
                f"spikekit-kernels: refusing the kernel cache: {exc}; the fused-cpu backend uses its pure-torch loop "
                "instead (same results, slower). Make the cache private to you (chmod 700, your own files) or point "
                "SPIKEKIT_KERNELS_CACHE at a directory of your own",
                RuntimeWarning,
                stacklevel=2,
            )
            _libs[key] = None
        except Exception as exc:  # any build or load failure: use the torch loop for this configuration
            detail = (
                exc.stderr.decode(errors="replace")[-500:] if isinstance(exc, subprocess.CalledProcessError) else ""
            )
            warnings.warn(
                f"spikekit-kernels: could not build the compiled CPU loop for configuration {key} ({exc}) {detail}; "
                "the fused-cpu backend uses its pure-torch loop for it instead (same results, slower)",
                RuntimeWarning,
                stacklevel=2,
            )
            _libs[key] = None
        return _libs[key]
