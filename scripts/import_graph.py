#!/usr/bin/env python
"""The import graph of paddle_electra (every import, lazy ones inside functions included) and its cycles.

    python scripts/import_graph.py            # cycles (strongly connected components), line counts per package
    python scripts/import_graph.py --edges    # every edge

A lazy import is still a dependency: it only hides the cycle from the interpreter, not from a reader.
tests/test_architecture.py asserts there are none and that imports follow docs/architecture.md's layers.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "paddle_electra"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the paddle_electra modules it imports (a package import points at the package's __init__)."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(f, root): f for f in files}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith(PACKAGE):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def line_counts(root: Path = ROOT) -> dict[str, int]:
    """Lines per top-level unit of the package (a subpackage, or a loose module)."""
    counts: dict[str, int] = defaultdict(int)
    for path in (root / PACKAGE).rglob("*.py"):
        rel = path.relative_to(root / PACKAGE).parts
        unit = rel[0] if len(rel) > 1 else rel[0].removesuffix(".py") + " (module)"
        counts[unit] += len(path.read_text(encoding="utf-8").splitlines())
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true")
    args = parser.parse_args(argv)
    graph = import_graph()
    if args.edges:
        for name in sorted(graph):
            for dep in sorted(graph[name]):
                print(f"{name} -> {dep}")
    counts = line_counts()
    loose = sum(1 for unit in counts if unit.endswith("(module)"))
    print(f"{len(graph)} modules, {sum(len(d) for d in graph.values())} import edges, {loose} loose top-level modules")
    for unit, lines in counts.items():
        print(f"  {unit:28} {lines:6}")
    print(f"  {'total':28} {sum(counts.values()):6}")
    found = cycles(graph)
    print(f"{len(found)} import cycle(s)")
    for component in found:
        print("  " + " <-> ".join(component))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
