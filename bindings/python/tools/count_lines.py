"""Count the lines of a Python package: raw, and code (non-blank lines that
are neither comments nor docstrings, docstrings found with ast).

    python3 tools/count_lines.py tasker_core [--exclude examples]
"""

import ast
import sys
from pathlib import Path


def docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def count(path: Path) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    docs = docstring_lines(ast.parse(text))
    raw = text.splitlines()
    code = sum(1 for i, line in enumerate(raw, 1) if line.strip() and not line.strip().startswith("#") and i not in docs)
    return len(raw), code


def main(argv: list[str]) -> int:
    root, excluded = Path(argv[0]), set()
    if "--exclude" in argv:
        excluded = set(argv[argv.index("--exclude") + 1].split(","))
    files = sorted(p for p in root.rglob("*.py") if not excluded & set(p.relative_to(root).parts))
    total_raw = total_code = 0
    for p in files:
        raw, code = count(p)
        total_raw, total_code = total_raw + raw, total_code + code
        print(f"{raw:6d} {code:6d}  {p.relative_to(root)}")
    print(f"{total_raw:6d} {total_code:6d}  total ({len(files)} files; raw, code)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
