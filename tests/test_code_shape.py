"""The shape of the code: no function over 100 lines of code in any package or plugin (JIT kernels excepted).

A line of code is a line carrying a token other than a comment, a docstring or white space. A function's count
includes the functions nested in it. Triton kernels (``@triton.jit``) are exempt: a kernel is one unit the compiler
sees whole, and splitting it costs registers or launches.
"""

from __future__ import annotations

import ast
import io
import textwrap
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml")])
MAX_LINES = 100
_JIT = {"triton.jit", "jit"}
_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _code_lines(source: str, tree: ast.AST) -> set[int]:
    """The line numbers that carry code (a multi-line token counts on every line it spans)."""
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in _NOT_CODE:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - _docstring_lines(tree)


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    return ast.unparse(node)


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """``(qualified name, line, lines of code)`` of every function over ``limit`` lines of code, JIT kernels aside."""
    tree = ast.parse(source)
    code = _code_lines(source, tree)
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}."
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                jit = any(_decorator_name(d) in _JIT for d in child.decorator_list)
                count = len(code & set(range(child.lineno, (child.end_lineno or child.lineno) + 1)))
                if count > limit and not jit:
                    found.append((name[:-1], child.lineno, count))
            visit(child, name)

    visit(tree, "")
    return found


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_no_function_over_100_lines_of_code(pkg):
    offenders = []
    for path in sorted((pkg / "src").rglob("*.py")):
        for name, line, count in long_functions(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}:{line} {name}: {count} lines of code")
    assert not offenders, "functions over 100 lines of code (split them along their steps):\n" + "\n".join(offenders)


def _function(name: str, body_lines: int, decorator: str = "") -> str:
    body = "\n".join(f"    x{i} = {i}  # a comment" for i in range(body_lines))
    return (
        f'{decorator}\ndef {name}():\n    """A docstring\n\n    over lines.\n    """\n\n    # only a comment\n{body}\n'
    )


def test_the_count_leaves_out_comments_docstrings_and_blank_lines():
    assert long_functions(_function("f", 99)) == []  # the def line and 99 statements: 100 lines
    assert long_functions(_function("f", 100)) == [("f", 2, 101)]


def test_the_count_includes_nested_functions_and_names_methods():
    source = textwrap.dedent(
        """
        class A:
            def method(self):
                def inner():
                    a = 1
                    b = 2
                c = 3
        """
    )
    assert long_functions(source, limit=4) == [("A.method", 3, 5)]
    assert long_functions(source, limit=5) == []


def test_a_multi_line_statement_counts_every_line():
    source = "def f():\n    return (\n        1,\n        2,\n    )\n"
    assert long_functions(source, limit=4) == [("f", 1, 5)]


def test_triton_kernels_are_exempt():
    assert long_functions(_function("kernel", 150, "import triton\n@triton.jit")) == []
    assert long_functions(_function("kernel", 150, "import triton\n@triton.jit(do_not_specialize=[0])")) == []
    assert long_functions(_function("f", 150, "import functools\n@functools.cache")) == [("f", 3, 151)]
