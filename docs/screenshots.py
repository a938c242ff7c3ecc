"""Screenshots of the key pages of the built site, taken with headless Chromium (``nox -s screenshots``).

Parsing the HTML (``tests/docs/test_built_site.py``) finds broken links and unrendered text; whether a table is
clipped, an equation overflows its column or the navigation reads well shows only on a rendered page. This script
renders the pages a reader opens most, at desktop and at phone width, into PNG files to look at::

    python docs/screenshots.py [--site docs/_build/html] [--out docs/_build/screenshots] [PAGE.html ...]

It needs Chromium (Debian: ``apt-get install chromium``) and exits with status 0 and a message where it is absent,
so that the session skips instead of failing. Pages load from disk, with the network switched off: what the
screenshots show is what an offline reader sees.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent

#: The pages a reader opens most, and those with wide tables, math and long code.
KEY_PAGES = [
    "index.html",
    "getting-started/install.html",
    "getting-started/quickstart.html",
    "migration.html",
    "project/about.html",
    "api/spikekit.html",
    "api/spikekit.layers.html",  # ALIF, first on the page, has the widest equation
    "neurons/index.html",
    "plugins/index.html",
    "auto_tutorials/index.html",
    "auto_tutorials/plot_02_convert.html",
    "auto_tutorials/plot_04_synops.html",
    "gallery/index.html",
]
#: (name, width, height) of the windows: a desktop and a phone.
WINDOWS = [("desktop", 1366, 2400), ("phone", 412, 2400)]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def shoot(browser: str, page: Path, fragment: str, png: Path, width: int, height: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="spikekit-shots-") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # offline: any network fetch fails
            f"--window-size={width},{height}", "--virtual-time-budget=8000", "--run-all-compositor-stages-before-draw",
            f"--screenshot={png}", page.as_uri() + (f"#{fragment}" if fragment else ""),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not png.is_file():
        print(f"  failed: {page.name}: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="pages relative to the site (default: the key pages)")
    parser.add_argument("--site", type=lambda p: Path(p).resolve(), default=DOCS / "_build" / "html")
    parser.add_argument("--out", type=Path, default=DOCS / "_build" / "screenshots")
    args = parser.parse_args(argv)
    browser = chromium()
    if browser is None:
        print("screenshots skipped: no Chromium found (Debian: apt-get install chromium)")
        return 0
    if not (args.site / "index.html").is_file():
        print(f"no built site in {args.site}: run `nox -s docs` first", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for target in args.pages or KEY_PAGES:
        rel, _, fragment = target.partition("#")
        page = args.site / rel
        if not page.is_file():
            print(f"  missing: {rel}", file=sys.stderr)
            failed += 1
            continue
        for window, width, height in WINDOWS:
            name = rel.removesuffix(".html").replace("/", "__") + (f"--{fragment}" if fragment else "")
            failed += not shoot(browser, page, fragment, args.out / f"{name}--{window}.png", width, height)
    print(f"screenshots in {args.out} ({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
