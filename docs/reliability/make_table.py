"""Regenerate the bad-input table of ``bad-inputs.md`` from ``tests/reliability/bad_inputs.py``.

Run ``python docs/reliability/make_table.py``: it rewrites the text between the two marker comments of
``bad-inputs.md``. ``tests/reliability/test_bad_inputs.py`` fails when the page and the case list differ.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PAGE = HERE / "bad-inputs.md"
BEGIN = "<!-- begin generated table: docs/reliability/make_table.py -->"
END = "<!-- end generated table -->"


def _cases_module():
    name = "spikekit_reliability_bad_inputs"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "reliability" / "bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def render_page_section() -> str:
    """The markers and the table between them, exactly as the page must hold them."""
    return f"{BEGIN}\n\n{_cases_module().render_table()}\n{END}"


def main() -> None:
    text = PAGE.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    PAGE.write_text(text[:start] + render_page_section() + text[end:])
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
