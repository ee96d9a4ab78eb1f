"""The layout is the architecture: a module imports only from its own stage and the stages before it, and there
is no import cycle between modules (checked on the source, module-level and function-level imports alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import microgesture

PKG = Path(microgesture.__file__).parent
# data → augment → models → training/evaluation → emotion → pipeline/report, a thin cli on top
RANK = {"utils": 0, "errors": 0, "__init__": 0, "data": 1, "augment": 2, "models": 3, "training": 4,
        "evaluation": 4, "emotion": 5, "pipeline": 6, "report": 6, "cli": 7}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the microgesture modules ``path`` imports."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("microgesture"):
                out.add(target)
                out.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("microgesture"))
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


FILES = sorted(PKG.rglob("*.py"))
MODULES = {_module(f) for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_stage_reaches_back_up(path):
    own = _stage(_module(path))
    for target in _imports(path):
        if target not in MODULES:
            continue  # an attribute imported from a module (its module is checked)
        assert RANK[_stage(target)] <= RANK[own], f"{_module(path)} ({own}) imports {target} ({_stage(target)})"


def test_no_import_cycles_between_modules():
    graph = {m: set() for m in MODULES}
    for f in FILES:
        src = _module(f)
        graph[src] = {t for t in _imports(f) if t in MODULES and t != src and not src.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
