"""Every developer task of the spikekit monorepo: `nox -l` lists them.

Packages are found on disk (packages/*, plugins/*: any folder with a pyproject.toml), never listed by hand.
Torch comes from one setting, SPIKEKIT_TORCH (default ``torch==2.13.0``, the CPU build on this project's machines);
set it to use another build, e.g. ``SPIKEKIT_TORCH="torch==2.14.1" nox -s tests``.
Virtualenvs are pip-based on purpose: uv does not see the local CPU torch build and would download several GB.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement  # nox depends on packaging
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent
TORCH = os.environ.get("SPIKEKIT_TORCH", "torch==2.13.0")
PACKAGE_DIRS = sorted(
    p.parent for p in [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml")]
)
WHEELS = ROOT / ".nox" / "_wheels"
# Test-only peers: installed only in the sessions that compare against them, never dependencies of a package.
SINABS = ["--no-deps", "sinabs==3.1.3"]
SINABS_NEEDS = ["pbr", "nir", "nirtorch", "matplotlib"]

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _meta(pkg_dir: Path) -> dict:
    return tomllib.loads((pkg_dir / "pyproject.toml").read_text())["project"]


def _dist_name(pkg_dir: Path) -> str:
    return _meta(pkg_dir)["name"]


def _has_extra(pkg_dir: Path, extra: str) -> bool:
    return extra in _meta(pkg_dir).get("optional-dependencies", {})


def _editable_args(extra: str | None = "test") -> list[str]:
    args: list[str] = []
    for pkg in PACKAGE_DIRS:
        spec = f"{pkg}[{extra}]" if extra and _has_extra(pkg, extra) else str(pkg)
        args += ["-e", spec]
    return args


def _install_everything(session: nox.Session, *extra: str) -> None:
    session.install(TORCH)
    session.install(*_editable_args(), "pytest", "hypothesis", *extra)


@nox.session
def tests(session: nox.Session) -> None:
    """Everything installed together (editable); every package's tests and the cross-package tests.

    Triton comes along so the GPU kernels are tested on the CPU through its interpreter (TRITON_INTERPRET=1), and
    Lightning so the engine test runs; both are test-only here.

    Every test runs in CI (the CI variable set) and with `nox -s tests -- --slow`; elsewhere the tests marked
    ``slow`` (cold torch.compile caches, multi-process and end-to-end training runs) are left out for a quicker loop.
    """
    _install_everything(session, "pytest-timeout", "triton", "lightning")
    session.run("python", "-m", "spikekit", "plugins", "--strict")
    paths = [str(p / "tests") for p in PACKAGE_DIRS if (p / "tests").is_dir()] + ["tests"]
    args = [a for a in session.posargs if a != "--slow"]
    if not os.environ.get("CI") and "--slow" not in session.posargs:
        session.log("leaving out the tests marked slow (CI runs them; `nox -s tests -- --slow` runs everything)")
        args = ["-m", "not slow", *args]
    session.run("python", "-m", "pytest", *paths, "-p", "no:cacheprovider", "--timeout=900", *args)


def _build_wheels(session: nox.Session) -> None:
    session.install("build")
    WHEELS.mkdir(parents=True, exist_ok=True)
    for old in WHEELS.glob("*"):
        old.unlink()
    for pkg in PACKAGE_DIRS:
        session.run("python", "-m", "build", "--sdist", "--wheel", "--outdir", str(WHEELS), str(pkg), silent=True)


@nox.session
def build(session: nox.Session) -> None:
    """Wheel and sdist of every package into .nox/_wheels (what `isolation` installs)."""
    _build_wheels(session)


def _local_closure(pkg_dir: Path) -> list[Path]:
    """The package and every sibling it depends on, transitively (by distribution name)."""
    by_name = {canonicalize_name(_dist_name(p)): p for p in PACKAGE_DIRS}
    seen: list[Path] = []
    todo = [pkg_dir]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        for req in _meta(current).get("dependencies", []):
            name = canonicalize_name(Requirement(req).name)
            if name in by_name:
                todo.append(by_name[name])
    return seen


@nox.session
@nox.parametrize("package", [p.name for p in PACKAGE_DIRS], ids=[p.name for p in PACKAGE_DIRS])
def isolation(session: nox.Session, package: str) -> None:
    """One package alone, installed from its wheel with only its declared dependencies; its own tests."""
    pkg_dir = next(p for p in PACKAGE_DIRS if p.name == package)
    stale = not WHEELS.is_dir() or any(
        not list(WHEELS.glob(f"{_dist_name(p).replace('-', '_')}-*.whl")) for p in PACKAGE_DIRS
    )
    if stale or "--rebuild" in session.posargs:
        _build_wheels(session)
    session.install(TORCH)
    closure = _local_closure(pkg_dir)
    wheels = []
    for dep in closure:
        stem = _dist_name(dep).replace("-", "_")
        found = sorted(WHEELS.glob(f"{stem}-*.whl"))
        if not found:
            session.error(f"no wheel for {_dist_name(dep)} in {WHEELS}: run `nox -s build`")
        wheels.append(str(found[-1]))
    # Siblings from the wheels only (never from a registry), then the rest of the declared dependencies.
    session.install("--no-deps", "--force-reinstall", *wheels)
    extra = "[test]" if _has_extra(pkg_dir, "test") else ""
    session.install(f"{wheels[0]}{extra}", "pytest", "hypothesis", "--find-links", str(WHEELS))
    session.run("python", "-m", "pip", "check")
    others = {_dist_name(p) for p in PACKAGE_DIRS} - {_dist_name(p) for p in closure}
    session.run("python", "-m", "spikekit", "plugins")
    if (pkg_dir / "tests").is_dir():
        args = [a for a in session.posargs if a != "--rebuild"]
        session.run("python", "-m", "pytest", str(pkg_dir / "tests"), "-p", "no:cacheprovider", *args,
                    env={"SPIKEKIT_ISOLATION_ABSENT": ",".join(sorted(others))})  # fmt: skip


THIRDPARTY = ROOT / "tests" / "outoftree" / "spikekit-thirdparty"


@nox.session
def thirdparty(session: nox.Session) -> None:
    """A third-party plugin distribution written against the public contract only (tests/outoftree), installed
    non-editable beside the first-party distributions; its own tests (conformance, fast paths, NIR, CLI, faults)."""
    _install_everything(session, "pytest-timeout")
    session.install("--no-deps", "--force-reinstall", str(THIRDPARTY))  # a regular install, never editable
    session.run("python", "-m", "spikekit", "plugins", "--strict")
    session.run("python", "-m", "pytest", str(THIRDPARTY / "tests"), "-p", "no:cacheprovider", "--timeout=900",
                *session.posargs)  # fmt: skip


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fuzz tests of the file readers (safe model loading, the .nir reader, chip JSON) with many examples each.

    `nox -s tests` runs the same tests with a few examples; here SPIKEKIT_FUZZ=fuzz selects their long hypothesis
    profiles, and the process's address space is capped at 6 GiB (SPIKEKIT_FUZZ_MEMORY_MB). Extra arguments go to
    pytest, e.g. `nox -s fuzz -- --hypothesis-seed=1`.
    """
    _install_everything(session, "pytest-timeout")
    files = sorted(str(p) for p in ROOT.glob("plugins/*/tests/test_*_fuzz_*.py"))
    session.run("python", "-m", "pytest", *files, "-p", "no:cacheprovider", "--timeout=3600", *session.posargs,
                env={"SPIKEKIT_FUZZ": "fuzz", "SPIKEKIT_FUZZ_MEMORY_MB": "6144", "OMP_NUM_THREADS": "1"})  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on the packages/ distributions (the core and spikekit-testing, strict) and on the plugins' sources
    (checked, not strict): see pyproject.toml."""
    session.install(TORCH)
    session.install("mypy", "pytest", *_editable_args(extra=None))  # pytest: the fixtures' types
    session.run("mypy", *(str(p / "src") for p in PACKAGE_DIRS if p.parent.name == "packages"))
    plugins = [p for p in PACKAGE_DIRS if p.parent.name == "plugins"]
    session.run("mypy", *(str(p / "src") for p in plugins))


@nox.session
def docs(session: nox.Session) -> None:
    """The Sphinx site (warnings are errors; gallery and tutorials executed), then the checks of the built pages."""
    _install_everything(session, "-r", str(ROOT / "docs" / "requirements.txt"))
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)
    session.run("python", "-m", "pytest", "tests/docs", "-p", "no:cacheprovider", "-q",
                env={"SPIKEKIT_DOCS_HTML": str(ROOT / "docs" / "_build" / "html")})  # fmt: skip


@nox.session(python=False)
def screenshots(session: nox.Session) -> None:
    """Key pages of the built site (`nox -s docs` first) in headless Chromium, to docs/_build/screenshots.

    Skips with a message where Chromium is absent (Debian: `apt-get install chromium`).
    """
    import shutil

    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        session.skip("no Chromium found: install it (Debian: apt-get install chromium) to take screenshots")
    session.run(sys.executable, "docs/screenshots.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: train, convert and evaluate spiking networks on digits (`nox -s demo -- --quick`)."""
    session.install(TORCH)
    session.install(*_editable_args(extra=None))
    session.run("spikekit", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks of the compute backends (and sinabs / spikingjelly side by side); JSON to benchmarks/results, the
    scaling plot to docs/backends/scaling.svg."""
    _install_everything(session, *SINABS_NEEDS)
    session.install(*SINABS)
    # spikingjelly without its dependencies: a plain install would replace torch by a CUDA build.
    session.install("--no-deps", "spikingjelly==2.0.0")
    session.install("loguru", "tqdm")
    session.run("python", "benchmarks/bench_backends.py", *session.posargs)
    # how one LIF layer's time grows with T, N and B (JSON and the docs' plot); a smoke run with --quick
    quick = ["--quick", "--plot", ""] if "--quick" in session.posargs else []
    session.run("python", "benchmarks/bench_scaling.py", *quick)


@nox.session
def parity(session: nox.Session) -> None:
    """sinabs 3.1.3 as a test-only oracle beside spikekit: same outputs, gradients and numbers.

    sinabs's chip module imports SynSense's SDK samna, whose package on the index is a network installer: never
    installed here. This session alone puts an import-only stand-in (tests/parity/_samna_stub) on PYTHONPATH.
    """
    _install_everything(session, *SINABS_NEEDS)
    session.install(*SINABS)
    stub = str(ROOT / "tests" / "parity" / "_samna_stub")
    session.run("python", "-m", "pytest", "tests/parity", "-p", "no:cacheprovider", *session.posargs,
                env={"PYTHONPATH": stub})  # fmt: skip


@nox.session
def interop(session: nox.Session) -> None:
    """NIR interchange with peer libraries (sinabs, snntorch) installed as test-only peers."""
    _install_everything(session, "nir", "nirtorch==2.6", "pbr", "matplotlib")
    session.install("--no-deps", "sinabs==3.1.3", "snntorch==1.0.0")
    # sinabs's own NIR tests run renamed at test time, from its source distribution (kept out of the repository)
    sdist_dir = Path(session.create_tmp()) / "sinabs-sdist"
    session.run("python", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "sinabs==3.1.3", "-d",
                str(sdist_dir), "-q")  # fmt: skip
    sdist = next(sdist_dir.glob("sinabs-3.1.3.tar.gz"), None)
    env = {"SPIKEKIT_SINABS_SDIST": str(sdist)} if sdist else {}
    session.run("python", "-m", "pytest", "tests/interop", "-p", "no:cacheprovider", "-rs", *session.posargs, env=env)


@nox.session(name="interop-rockpool")
def interop_rockpool(session: nox.Session) -> None:
    """NIR interchange with rockpool 3.1.0 (test-only peer, installed without its optional dependencies)."""
    _install_everything(session, "nir", "nirtorch==2.6")
    session.install("--no-deps", "rockpool==3.1.0")
    session.run("python", "-m", "pytest", "tests/interop/test_interop_rockpool.py", "-p", "no:cacheprovider", "-rs",
                *session.posargs)  # fmt: skip


# norse needs torchvision, which imports only beside its own torch build (a CUDA build of several GB).
NORSE_TORCH = os.environ.get("SPIKEKIT_NORSE_TORCH", "torch==2.14.1 torchvision==0.29.1").split()


@nox.session(name="interop-norse")
def interop_norse(session: nox.Session) -> None:
    """NIR interchange with norse 1.1.0 (test-only peer), on torch 2.14.1 + torchvision 0.29.1 as norse needs."""
    session.install(*NORSE_TORCH)
    # NORSE_TORCH again, so that pip keeps that torch while it resolves norse's dependencies.
    session.install(*_editable_args(), "pytest", "hypothesis", "nir", "nirtorch==2.6", "norse==1.1.0", *NORSE_TORCH)
    session.install("--no-deps", "snntorch==1.0.0")  # to write recurrent graphs the way snnTorch does
    session.run("python", "-m", "pytest", "tests/interop/test_interop_norse.py", "-p", "no:cacheprovider", "-rsx",
                *session.posargs)  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through nox: `nox -l` lists the sessions")
