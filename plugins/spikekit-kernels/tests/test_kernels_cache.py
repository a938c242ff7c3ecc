"""The kernel cache as a trust boundary: what is loaded from it, what is refused, what is rebuilt.

A shared library loaded into the process runs its constructors there, so the cache must never load a file it did
not build for the requested configuration, nor use a directory or file another user can write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import make_config, random_input

from spikekit_kernels import build_cache as _cc
from spikekit_kernels import cache_trust

pytestmark = pytest.mark.skipif(_cc._compiler() is None, reason="no C compiler")

CONFIG = ("float", 17, 0, 1)  # LIF with a synapse, MultiSpike, SingleExponential
OTHER = ("float", 16, 1, 2)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty, private cache directory and no library loaded in this process."""
    path = tmp_path / "kernels"
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(path))
    monkeypatch.setattr(_cc, "_libs", {})
    monkeypatch.setattr(_cc, "_cleaned", set())
    return path


def _planted_library(where: Path, marker: Path) -> None:
    """A shared library whose constructor writes ``marker``: proof that it was loaded."""
    src = where.with_suffix(".c")
    src.write_text(
        textwrap.dedent(f"""\
        #include <stdio.h>
        __attribute__((constructor)) static void planted(void) {{
            FILE *f = fopen("{marker}", "w");
            if (f) {{ fputs("ran", f); fclose(f); }}
        }}
        int config_flags(void) {{ return {CONFIG[1]}; }}
        int args_size(void) {{ return 0; }}
        const char *spikekit_kernels_config(void) {{ return "planted"; }}
        """)
    )
    subprocess.run([*_cc._compiler(), "-shared", "-fPIC", str(src), "-o", str(where)], check=True)
    src.unlink()


def _digest(path: Path) -> None:
    import hashlib

    Path(str(path) + ".sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")


def _plant(cache: Path, marker: Path, *, with_digest: bool) -> Path:
    target = _cc.library_path(*CONFIG)
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    _planted_library(target, marker)
    if with_digest:
        _digest(target)
    return target


def _runs_like_the_reference() -> None:
    params, state = make_config("lif", syn=True)
    x = random_input(3, 9, (5,), 3)
    out, _, _ = get_backend("fused-cpu").run(x, state, params)
    ref, _, _ = get_backend("torch").run(x, state, params)
    assert torch.equal(out, ref)


def test_each_library_carries_its_configuration(cache) -> None:
    lib = _cc.library(*CONFIG)
    assert lib is not None
    lib.spikekit_kernels_config.restype = __import__("ctypes").c_char_p
    assert lib.spikekit_kernels_config().decode().startswith("REAL=float FLAGS=17 SPK=0 SG=1 BUILD=b")
    path = _cc.library_path(*CONFIG)
    assert (
        Path(str(path) + ".sha256").read_text().strip() == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    )


# ------------------------------------------------------------------------------------------ planted libraries
def test_a_planted_library_without_a_digest_never_runs_and_is_rebuilt(cache, tmp_path) -> None:
    marker = tmp_path / "constructor-ran"
    _plant(cache, marker, with_digest=False)
    with pytest.warns(RuntimeWarning, match="digest file .* does not exist; rebuilding"):
        lib = _cc.library(*CONFIG)
    assert not marker.exists()
    assert lib is not None and lib.config_flags() == CONFIG[1]
    _runs_like_the_reference()


def test_a_planted_library_with_a_stale_digest_never_runs_and_is_rebuilt(cache, tmp_path) -> None:
    marker = tmp_path / "constructor-ran"
    assert _cc.library(*CONFIG) is not None  # a genuine build records its digest
    _cc._libs.clear()
    target = _cc.library_path(*CONFIG)
    target.unlink()
    _planted_library(target, marker)  # the library swapped, the digest left as the build wrote it
    with pytest.warns(RuntimeWarning, match="does not match the digest recorded when it was built; rebuilding"):
        lib = _cc.library(*CONFIG)
    assert not marker.exists()
    assert lib is not None and lib.config_flags() == CONFIG[1]


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_cache_writable_by_others_is_refused_and_nothing_in_it_runs(cache, tmp_path, mode) -> None:
    marker = tmp_path / "constructor-ran"
    _plant(cache, marker, with_digest=True)  # planted with a matching digest: only the directory check stops it
    os.chmod(cache, mode)
    with pytest.warns(RuntimeWarning, match=f"refusing the kernel cache: cache directory {cache} is writable by"):
        assert _cc.library(*CONFIG) is None
    assert not marker.exists()
    _runs_like_the_reference()  # the fused backend runs its torch loop


def test_a_library_writable_by_others_is_refused(cache, tmp_path) -> None:
    marker = tmp_path / "constructor-ran"
    target = _plant(cache, marker, with_digest=True)
    os.chmod(target, 0o766)
    with pytest.warns(RuntimeWarning, match=f"library {target} is writable by group and others"):
        assert _cc.library(*CONFIG) is None
    assert not marker.exists()


def test_a_symbolic_link_in_place_of_a_library_is_refused(cache, tmp_path) -> None:
    marker = tmp_path / "constructor-ran"
    elsewhere = tmp_path / "elsewhere.so"
    _planted_library(elsewhere, marker)
    cache.mkdir(mode=0o700)
    target = _cc.library_path(*CONFIG)
    target.symlink_to(elsewhere)
    _digest(elsewhere)
    shutil.copy(str(elsewhere) + ".sha256", str(target) + ".sha256")
    with pytest.warns(RuntimeWarning, match=f"library {target} is a symbolic link"):
        assert _cc.library(*CONFIG) is None
    assert not marker.exists()


def test_a_cache_owned_by_another_user_is_refused(cache, tmp_path, monkeypatch) -> None:
    marker = tmp_path / "constructor-ran"
    _plant(cache, marker, with_digest=True)
    if os.geteuid() == 0:  # really hand it to another user
        for p in (cache, *cache.iterdir()):
            os.chown(p, 65534, 65534)
    else:  # seen from another user's process
        monkeypatch.setattr(cache_trust, "uid", lambda: os.getuid() + 1)
    with pytest.warns(RuntimeWarning, match="is owned by uid"):
        assert _cc.library(*CONFIG) is None
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_library_owned_by_another_user_is_refused(cache, tmp_path) -> None:
    marker = tmp_path / "constructor-ran"
    target = _plant(cache, marker, with_digest=True)
    os.chown(target, 65534, 65534)
    with pytest.warns(RuntimeWarning, match=f"library {target} is owned by uid 65534"):
        assert _cc.library(*CONFIG) is None
    assert not marker.exists()


# ------------------------------------------------------------------------------- corrupt or mismatching files
def test_a_truncated_library_is_rebuilt_and_never_crashes_a_later_run(cache) -> None:
    # Built in another process: a library this process had mapped would, once truncated under it, end this process
    # with SIGBUS when it exits (the case a later run must never meet).
    build = f"from spikekit_kernels import build_cache as _cc; assert _cc.library(*{CONFIG!r}) is not None"
    subprocess.run([sys.executable, "-c", build], check=True, timeout=300)
    target = _cc.library_path(*CONFIG)
    whole = target.read_bytes()
    os.chmod(target, 0o700)
    with open(target, "r+b") as f:
        f.truncate(len(whole) // 2)
    code = textwrap.dedent("""\
        import warnings
        from spikekit_kernels import build_cache as _cc
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            lib = _cc.library("float", 17, 0, 1)
        assert lib is not None and lib.config_flags() == 17
        print([str(w.message) for w in seen])
        """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr  # a truncated mapping used to end the process with SIGBUS
    assert "does not match the digest recorded when it was built; rebuilding" in run.stdout
    assert target.read_bytes() == whole  # rebuilt whole (the build is deterministic)


def test_a_library_of_another_configuration_is_rebuilt(cache) -> None:
    assert _cc.library(*OTHER) is not None
    other, target = _cc.library_path(*OTHER), _cc.library_path(*CONFIG)
    shutil.copy(other, target)  # another configuration under this name, with a digest that matches it
    shutil.copy(str(other) + ".sha256", str(target) + ".sha256")
    _cc._libs.clear()
    with pytest.warns(RuntimeWarning, match=r"was built for configuration 'REAL=float FLAGS=16 SPK=1 SG=2"):
        lib = _cc.library(*CONFIG)
    assert lib is not None and lib.config_flags() == CONFIG[1]
    _runs_like_the_reference()


def test_a_garbage_library_is_rebuilt(cache) -> None:
    cache.mkdir(mode=0o700)
    target = _cc.library_path(*CONFIG)
    target.write_bytes(b"\x7fELF" + os.urandom(4000))
    _digest(target)  # even with a digest that matches it
    with pytest.warns(RuntimeWarning, match="cannot be loaded"):
        lib = _cc.library(*CONFIG)
    assert lib is not None and lib.config_flags() == CONFIG[1]


def test_folders_of_killed_builds_are_removed_and_nothing_else(cache, monkeypatch) -> None:
    cache.mkdir(mode=0o700)
    killed = Path(__import__("tempfile").mkdtemp(dir=cache, prefix=".build-"))
    _cc._write_record(cache, [killed.name])  # as a build records its folder before it starts
    (killed / "half-written.so").write_bytes(b"\x7fELF")
    foreign = cache / ".build-not-ours"  # named like a build folder, but the cache never recorded it
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    assert _cc.library(*CONFIG) is not None
    assert not killed.exists()
    assert (foreign / "keep").read_text() == "x"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [".lock", ".builds", foreign.name, _cc.library_path(*CONFIG).name, _cc.library_path(*CONFIG).name + ".sha256"]
    )
    assert _cc._recorded(cache) == []


def test_the_cache_is_private_whatever_the_umask(cache) -> None:
    old = os.umask(0)
    try:
        assert _cc.library(*CONFIG) is not None
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for p in cache.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


def test_an_existing_cache_readable_by_others_is_used_and_left_as_it_is(cache) -> None:
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    assert _cc.library(*CONFIG) is not None
    assert stat.S_IMODE(cache.stat().st_mode) == 0o755  # not the cache's to change: it did not create it


def test_missing_parents_of_the_cache_are_created_private(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a" / "b" / "kernels"
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(path))
    monkeypatch.setattr(_cc, "_libs", {})
    old = os.umask(0)
    try:
        assert _cc.library(*CONFIG) is not None
    finally:
        os.umask(old)
    for p in (tmp_path / "a", tmp_path / "a" / "b", path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p


# ---------------------------------------------------------------------------------------------------- compiler
def test_cc_is_parsed_as_a_command_line(cache, tmp_path, monkeypatch) -> None:
    log = tmp_path / "wrapper.log"
    wrapper = tmp_path / "my wrapper"  # a space in the path: CC quotes it, as a shell would
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "$@"\n')
    wrapper.chmod(0o755)
    compiler = _cc._compiler()
    monkeypatch.setenv("CC", f"'{wrapper}' {compiler[0]}")
    monkeypatch.setattr(_cc, "_compiler_checked", False)
    monkeypatch.setattr(_cc, "_cc_cmd", None)  # restored afterwards, with the flag above
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lib = _cc.library(*CONFIG)
    assert lib is not None and lib.config_flags() == CONFIG[1]
    assert _cc._cc_cmd == [str(wrapper), compiler[0]]
    assert "-DFLAGS=17" in log.read_text()  # the build went through the wrapper


def _sticky_shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: everyone may create entries, only their owners may remove them
    return shared


def _victim(tmp_path: Path) -> tuple[Path, Path]:
    """A directory of this user's with a folder named like a build folder, and a file: what a link may aim at."""
    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (target / ".build-precious").mkdir()
    (target / "data.txt").write_text("mine")
    return target, target / ".build-precious"


def _untouched(target: Path, before: list[str]) -> None:
    assert sorted(p.name for p in target.iterdir()) == before
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert (target / "data.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a link to another user")
def test_a_link_owned_by_another_user_in_a_shared_sticky_folder_is_refused(tmp_path, monkeypatch) -> None:
    """Another user's link in a shared sticky folder, pointing at this user's directory: nothing there is deleted,
    chmod-ed or written, and the fused backend runs its torch loop after a warning naming the link."""
    target, _precious = _victim(tmp_path)
    before = sorted(p.name for p in target.iterdir())
    link = _sticky_shared(tmp_path) / "kernels"
    link.symlink_to(target)
    os.lchown(link, 65534, 65534)
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(link))
    monkeypatch.setattr(_cc, "_libs", {})
    monkeypatch.setattr(_cc, "_cleaned", set())
    with pytest.warns(RuntimeWarning, match=f"cache path {link} is a symbolic link owned by uid 65534"):
        assert _cc.library(*CONFIG) is None
    _untouched(target, before)
    _runs_like_the_reference()


def test_a_link_of_ones_own_is_followed_and_checked(tmp_path, monkeypatch) -> None:
    real = tmp_path / "real-cache"
    link = tmp_path / "kernels"
    link.symlink_to(real)
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(link))
    monkeypatch.setattr(_cc, "_libs", {})
    assert _cc.library(*CONFIG) is not None
    assert (real / _cc.library_path(*CONFIG).name).is_file()


@pytest.mark.parametrize("where", ["cache", "link"])
def test_a_cache_under_a_folder_others_can_write_without_the_sticky_bit_is_refused(tmp_path, monkeypatch, where):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # no sticky bit: anyone may rename or replace what is in it
    if where == "cache":
        path = open_dir / "kernels"
        target = None
    else:  # a link of one's own, but in the open folder (anyone may swap it), to a directory of one's own
        target, _ = _victim(tmp_path)
        path = open_dir / "kernels"
        path.symlink_to(target)
    before = sorted(p.name for p in target.iterdir()) if target else []
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(path))
    monkeypatch.setattr(_cc, "_libs", {})
    with pytest.warns(RuntimeWarning, match=f"folder {open_dir} on the cache's path is writable by others without"):
        assert _cc.library(*CONFIG) is None
    assert not (open_dir / "kernels").exists() or target is not None  # nothing created there
    if target is not None:
        _untouched(target, before)


def test_a_cache_in_a_sticky_folder_is_accepted(tmp_path, monkeypatch) -> None:
    path = _sticky_shared(tmp_path) / "kernels"
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(path))
    monkeypatch.setattr(_cc, "_libs", {})
    assert _cc.library(*CONFIG) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
