"""The project's import graph has no cycle, and the stages above the tasks import them at module level.

The graph is read from the source with ``ast`` (nothing is imported): an edge for every import that
runs when a module is imported (anywhere outside a function body) and for every import under
``if TYPE_CHECKING:`` (a type-only import is still a dependency). ``from a.b import c`` is an edge
to ``a.b``, and to ``a.b.c`` when that is a module; importing a module also runs the ``__init__`` of
its packages, so every ancestor package of the target that is not one of the importer's is an edge
too. A cycle means some stage imports a higher one; hiding the import in a function only hides it.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("benchmark", "leaderboard", "baselines")
# Stages that read tasks must import them where every reader sees it, never inside a function.
NO_LOCAL_TASK_IMPORTS = ("benchmark/stats", "benchmark/results", "leaderboard")
TASKS_PACKAGE = "benchmark.tasks"


def module_files() -> dict[str, Path]:
    """Module name -> source file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``node``, with whether it sits in a function body (runs on call)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        else:
            yield from _imports(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))


def _targets(statement: ast.Import | ast.ImportFrom, package: str, modules: Collection[str]) -> set[str]:
    """The modules an import statement names: ``import a.b`` -> a.b; ``from a.b import c`` -> a.b and
    a.b.c when it is a module. Relative imports are resolved against ``package``."""
    if isinstance(statement, ast.Import):
        return {alias.name for alias in statement.names}
    base = statement.module or ""
    if statement.level:
        parts = package.split(".")
        anchor = parts[: len(parts) - statement.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return {base} | {f"{base}.{alias.name}" for alias in statement.names if f"{base}.{alias.name}" in modules}


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def module_imports(
    source: str, module: str, is_package: bool, modules: Collection[str], in_functions: bool = False
) -> set[str]:
    """The project modules (of ``modules``) that importing ``module`` runs, from its ``source``; with
    ``in_functions``, those its functions import instead (run on call)."""
    package = module if is_package else module.rpartition(".")[0]
    own = {*_ancestors(module), module}
    found: set[str] = set()
    for statement, in_function in _imports(ast.parse(source)):
        if in_function == in_functions:
            for target in _targets(statement, package, modules):
                found |= {m for m in (*_ancestors(target), target) if m in modules and m not in own}
    return found


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules importing it runs (see the module docstring)."""
    modules = module_files()
    return {
        module: module_imports(path.read_text(), module, path.name == "__init__.py", modules)
        for module, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as the modules along it (first module repeated at the end), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
            elif successor in on_path:
                return [*path[path.index(successor) :], successor]
            elif successor not in done:
                path.append(successor)
                on_path.add(successor)
                stack.append(iter(sorted(graph[successor])))
    return None


SOURCE = """
from typing import TYPE_CHECKING
import p.q.r
from p import s
from . import sibling
from .sibling import name
if TYPE_CHECKING:
    from p.t import Type
class C:
    import p.u
def f():
    import p.late
"""
MODULES = ("p", "p.q", "p.q.r", "p.s", "p.t", "p.u", "p.late", "p.pkg", "p.pkg.m", "p.pkg.sibling")


def test_edges_of_a_module() -> None:
    edges = module_imports(SOURCE, "p.pkg.m", False, MODULES)
    # p and p.pkg are the importer's own packages (already running); p.q is the __init__ of p.q.r
    assert edges == {"p.q", "p.q.r", "p.s", "p.t", "p.u", "p.pkg.sibling"}
    assert module_imports(SOURCE, "p.pkg.m", False, MODULES, in_functions=True) == {"p.late"}
    assert module_imports("from . import m", "p.pkg", True, MODULES) == {"p.pkg.m"}  # a package's own module


def test_graph_sees_the_project() -> None:
    graph = import_graph()
    assert "benchmark.stats.bootstrap" in graph["benchmark.tasks.evaluate"]
    assert "benchmark.stats" in graph["benchmark.tasks.evaluate"]  # the package __init__ of an imported module


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_find_cycle_reports_the_modules() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_tasks_imported_at_module_level() -> None:
    modules = module_files()
    local = [
        str(path.relative_to(REPO))
        for module, path in modules.items()
        if str(path.relative_to(REPO)).startswith(NO_LOCAL_TASK_IMPORTS)
        and any(
            m == TASKS_PACKAGE or m.startswith(TASKS_PACKAGE + ".")
            for m in module_imports(path.read_text(), module, path.name == "__init__.py", modules, in_functions=True)
        )
    ]
    assert not local, f"function-level imports of {TASKS_PACKAGE} (import it at module level) in {local}"
