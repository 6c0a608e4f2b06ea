"""A model's source: its factory's module and every project module that module imports, transitively.

A model is more than its factory's file: ``resnet50`` builds on the head in ``baselines/_heads.py``
and its recipe starts from ``baselines/densenet.py``'s. Its source hash (part of every run key)
therefore covers the whole import closure, found statically with ``ast``: module-level imports (not
those inside functions, nor ``if TYPE_CHECKING:`` blocks, which never run) of modules whose files
lie in a source root. Imports made by name at run time (``importlib.import_module``) are not seen.

The hash is over the sorted (path relative to its root, sha256 of the file) pairs, so the same code
hashes alike wherever the checkout lives.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from benchmark.errors import ConfigError

# the folder holding the project's own packages (``benchmark/models/source.py`` -> its grandparent's parent)
PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = frozenset({"benchmark", "baselines"})


@dataclass(frozen=True)
class SourceRoot:
    """A folder modules are imported from, and the top-level names that count (None: any file in it)."""

    directory: Path
    packages: frozenset[str] | None = None

    def find(self, module: str) -> Path | None:
        """The file of ``module`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``) under this root, if any."""
        parts = module.split(".")
        if self.packages is not None and parts[0] not in self.packages:
            return None
        base = self.directory.joinpath(*parts)
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None


@dataclass(frozen=True)
class SourceFile:
    """One file of a model's source: ``name`` relative to its root (what the hash covers), ``path`` on disk."""

    name: str
    path: Path

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


PROJECT_ROOT = SourceRoot(PROJECT_DIR, PROJECT_PACKAGES)


def factory_file(factory: Callable[..., object]) -> Path:
    """The file that defines ``factory``."""
    try:
        found = inspect.getsourcefile(factory)
    except TypeError:
        found = None
    if not found:
        raise ConfigError(f"the source file of model factory {factory!r} cannot be found; define it in a .py file")
    return Path(found).resolve()


def factory_roots(factory: Callable[..., object], folder: Path | None = None) -> tuple[SourceRoot, ...]:
    """Where the modules of ``factory``'s model come from: the project's packages, and ``folder`` (a
    submission's, any file in it) or else the top-level package the factory's module belongs to."""
    if folder is not None:
        return PROJECT_ROOT, SourceRoot(folder.resolve())
    module = getattr(factory, "__module__", None) or ""
    top = module.split(".")[0]
    file = factory_file(factory)
    depth = module.count(".") + (2 if file.name == "__init__.py" else 1)
    if top and top != "__main__" and len(file.parents) >= depth:
        own = SourceRoot(file.parents[depth - 1], frozenset({top}))
        if own.find(module) == file:
            return PROJECT_ROOT, own
    return PROJECT_ROOT, SourceRoot(file.parent, frozenset({file.stem}))


def import_closure(entry: Path, roots: Sequence[SourceRoot]) -> tuple[SourceFile, ...]:
    """``entry`` and every module file it imports from ``roots``, transitively, sorted by name (the
    packages a module lies in count as imported: importing it runs their ``__init__`` first)."""
    entry = entry.resolve()
    found: dict[Path, SourceFile] = {}
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        root, module = _locate(path, roots)
        found[path] = SourceFile(path.relative_to(root).as_posix() if root else path.name, path)
        imports = _imported_modules(path.read_bytes(), module, path.name == "__init__.py")
        for name in (module, *imports) if module else imports:
            for imported in _module_and_parents(name):
                target = next((f for r in roots if (f := r.find(imported)) is not None), None)
                if target is not None and target.resolve() not in found:
                    pending.append(target.resolve())
    return tuple(sorted(found.values(), key=lambda f: f.name))


def hash_sources(files: Sequence[SourceFile]) -> str:
    """sha256 over the sorted (name, file sha256) pairs: a change to any file changes it, a move does not."""
    lines = sorted(f"{f.name}\t{f.sha256()}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _locate(path: Path, roots: Sequence[SourceRoot]) -> tuple[Path | None, str | None]:
    """The root ``path`` lies in and its module name there (None, None for a file outside every root)."""
    for root in roots:
        directory = root.directory.resolve()
        if not path.is_relative_to(directory):
            continue
        parts = path.relative_to(directory).with_suffix("").parts
        if root.packages is not None and parts[0] not in root.packages:
            continue  # e.g. a submission folder inside the checkout belongs to its own root
        return directory, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return None, None


def _module_and_parents(name: str) -> Iterator[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


@lru_cache(maxsize=4096)
def _imported_modules(source: bytes, module: str | None, is_package: bool) -> tuple[str, ...]:
    """Absolute names of the modules ``source`` imports at module level (``from a import b`` gives
    ``a`` and ``a.b``: ``b`` may be a submodule). Cached on the file's bytes, so an edit is always seen."""
    package = module if is_package else (module or "").rpartition(".")[0]
    names: list[str] = []
    for node in _module_level(ast.parse(source).body):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is not None:
                names += [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
    return tuple(dict.fromkeys(names))


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run on import: the body and its blocks, not functions or TYPE_CHECKING ones."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _module_level(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                yield from _module_level([s for s in block if isinstance(s, ast.stmt | ast.excepthandler)])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """``from ..x import y`` inside ``package`` -> ``<package's parent>.x``; None if it leaves the package."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None
