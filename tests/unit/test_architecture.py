"""The package tree is the architecture: layer packages only, no import cycle, small modules.

The layers (README "Layout"): base, config, dialects, emulated_wos, emulated_device, scenario,
checks, engine, results, report, commands. A module imports what it needs where it is read
(imports inside functions count too); only imports for type checking are left out, since they
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "margo_conformance"
LAYERS = {
    "base", "config", "dialects", "emulated_wos", "emulated_device", "scenario", "checks", "engine",
    "results", "report", "commands",
}
#: A module longer than this says it holds more than one thing (issue 13: "no module over ~400").
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def run_time_imports(path: Path) -> set[str]:
    """The package's modules this module imports when it runs (at the top or in a function)."""
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        if is_type_checking_block(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("margo_conformance"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("margo_conformance"))
        pending.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in MODULES}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def holds_source(path: Path) -> bool:
    """A module, or a folder with a module somewhere in it (a checkout from before a move keeps
    folders of stale __pycache__ only, which are not part of the package)."""
    return path.suffix == ".py" or (path.is_dir() and any(path.rglob("*.py"))) or path.name == "data"


def test_the_package_holds_only_layer_packages() -> None:
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__")) and holds_source(p)}
    assert top == LAYERS | {"data"}, f"outside the layers: {sorted(top - LAYERS - {'data'})}"


def test_no_import_cycle_inside_the_package() -> None:
    graph = {name: run_time_imports(path) for name, path in MODULES.items()}
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_longer_than_the_limit() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
