"""Imports flow one way through the package's layers, and no family imports another.

Layers, lowest first (a module may import its own layer and the layers below)::

    0  ops                                   torch kernels, MMD, every torch loss
    1  shared: private helpers (_*.py), validation, base, exceptions, registry, datasets
    2  training                              the deep training engine
    3  families: instance | feature | model | relation   (never each other)
    4  selection
    5  pipeline, benchmarks, cli (the ``domainadapt`` command)
    6  domainadapt (the package's __init__, and __main__: ``python -m domainadapt``)

Every module under ``domainadapt/`` is parsed with :mod:`ast`; module-level imports,
imports inside functions and classes (lazy ones) and ``TYPE_CHECKING`` imports all
count, relative and absolute alike.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "domainadapt"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

FAMILIES = frozenset({"instance", "feature", "model", "relation"})

#: Layer of each top-level subpackage / module of ``domainadapt`` (private ``_*``
#: modules are shared helpers, layer 1, see :func:`layer_of`).
LAYER_OF_TOP_LEVEL: dict[str, int] = {
    "ops": 0,
    "validation": 1,
    "base": 1,
    "exceptions": 1,
    "registry": 1,
    "datasets": 1,
    "training": 2,
    **dict.fromkeys(FAMILIES, 3),
    "selection": 4,
    "pipeline": 5,
    "benchmarks": 5,
    "cli": 5,
    "__main__": 6,
}
#: ``import domainadapt`` / ``from domainadapt import x``: the package facade, above all.
ROOT_LAYER = 6
SHARED_LAYER = 1

#: Known violations, to be removed as the code they name is fixed; no other exceptions.
#: (importer module, imported module), both dotted names. Every entry must still
#: exist (test_pending_edges_still_exist), so a fixed edge cannot stay allowed.
PENDING: frozenset[tuple[str, str]] = frozenset(
    {
    }
)


@dataclass(frozen=True)
class Violation:
    """One import that goes against the layering."""

    importer: str
    imported: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported} ({self.reason})"


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """Dotted module name of a file under ``package_dir`` (``pkg/__init__.py`` -> ``pkg``)."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every ``domainadapt`` module that ``source`` imports, anywhere in the file.

    Parameters
    ----------
    source : str
        Python source of the module.
    module : str
        Its dotted name, to resolve relative imports.
    is_package : bool
        Whether the source is a package's ``__init__.py``.

    Yields
    ------
    (str, int)
        The imported module's dotted name (``from pkg import name`` yields
        ``pkg.name``: it may be a submodule) and the line of the import.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                yield (f"{target}.{alias.name}" if alias.name != "*" else target), node.lineno


def layer_of(module: str) -> int | None:
    """Layer of a ``domainadapt`` module; ``None`` for modules outside the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return ROOT_LAYER
    top = parts[1]
    if top.startswith("_") and top != "__init__" and top not in LAYER_OF_TOP_LEVEL:
        return SHARED_LAYER
    if top not in LAYER_OF_TOP_LEVEL:
        raise KeyError(f"{module}: add {top!r} to LAYER_OF_TOP_LEVEL in tests/test_layers.py")
    return LAYER_OF_TOP_LEVEL[top]


def family_of(module: str) -> str | None:
    """The family (``instance``, ``feature``, ``model``, ``relation``) a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FAMILIES else None


def _known_module(name: str, known: frozenset[str]) -> str:
    """``pkg.name`` from ``from pkg import name`` is a module if known, else it is ``pkg``."""
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def find_violations(
    sources: Iterable[tuple[str, bool, str]],
    known_modules: Iterable[str],
    pending: frozenset[tuple[str, str]] = frozenset(),
) -> list[Violation]:
    """Imports that go up a layer or across families.

    Parameters
    ----------
    sources : iterable of (module, is_package, source)
        The modules to check.
    known_modules : iterable of str
        Every module of the package (resolves ``from pkg import submodule``).
    pending : frozenset of (importer, imported)
        Edges allowed for now.

    Returns
    -------
    list of Violation
    """
    known = frozenset(known_modules)
    found = []
    for module, is_package, source in sources:
        own_layer, own_family = layer_of(module), family_of(module)
        for name, line in imported_modules(source, module, is_package):
            if layer_of(name) is None:
                continue
            imported = _known_module(name, known)
            if imported == module or (module, imported) in pending:
                continue
            their_layer, their_family = layer_of(imported), family_of(imported)
            if their_layer > own_layer:
                reason = f"layer {own_layer} imports layer {their_layer}"
            elif own_family and their_family and own_family != their_family:
                reason = f"family {own_family} imports family {their_family}"
            else:
                continue
            violation = Violation(module, imported, line, reason)
            if violation not in found:  # one per imported module and line
                found.append(violation)
    return found


def _package_sources() -> list[tuple[str, bool, str]]:
    return [
        (module_name(path), path.name == "__init__.py", path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    ]


# ----------------------------------------------------------------------------- the package
def test_every_module_has_a_layer():
    for module, _, _ in _package_sources():
        assert layer_of(module) is not None


def test_no_module_imports_a_higher_layer_or_another_family():
    sources = _package_sources()
    violations = find_violations(sources, [m for m, _, _ in sources], PENDING)
    assert not violations, "layering violations:\n" + "\n".join(map(str, violations))


def test_pending_edges_still_exist():
    sources = _package_sources()
    found = find_violations(sources, [m for m, _, _ in sources])
    stale = PENDING - {(v.importer, v.imported) for v in found}
    assert not stale, f"remove the fixed edges from PENDING: {sorted(stale)}"


# ----------------------------------------------------------------------------- the checker
_KNOWN = [
    "domainadapt",
    "domainadapt.ops",
    "domainadapt.ops.mmd",
    "domainadapt.base",
    "domainadapt._utils",
    "domainadapt.training",
    "domainadapt.feature",
    "domainadapt.feature.coral",
    "domainadapt.relation",
    "domainadapt.selection",
    "domainadapt.pipeline",
]


def _check(module: str, source: str, is_package: bool = False) -> list[Violation]:
    return find_violations([(module, is_package, source)], _KNOWN)


@pytest.mark.parametrize(
    ("module", "source", "reason"),
    [
        ("domainadapt.ops.fake", "from ..base import BaseAdapter", "layer 0 imports layer 1"),
        ("domainadapt.base", "from .training import engine", "layer 1 imports layer 2"),
        (
            "domainadapt.training.fake",
            "import domainadapt.selection.auto",
            "layer 2 imports layer 4",
        ),
        (
            "domainadapt.feature.fake",
            "def f():\n    from ..relation import LabelPropagation\n",
            "family feature imports family relation",
        ),
        (
            "domainadapt.relation.fake",
            "class A:\n    def f(self):\n        from domainadapt.feature.coral import CORAL\n",
            "family relation imports family feature",
        ),
        ("domainadapt.selection.fake", "from .. import pipeline", "layer 4 imports layer 5"),
        ("domainadapt.pipeline", "import domainadapt", "layer 5 imports layer 6"),
    ],
)
def test_checker_catches_a_synthetic_violation(module, source, reason):
    (violation,) = _check(module, source)
    assert violation.reason == reason
    assert violation.importer == module


def test_checker_resolves_relative_imports_and_lines():
    (violation,) = _check("domainadapt.feature", "import numpy\n\nfrom ..selection import x\n", True)
    assert violation.imported == "domainadapt.selection" and violation.line == 3
    # from a package's __init__, "." is the package itself
    assert _check("domainadapt.feature", "from .coral import CORAL", True) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("domainadapt.feature.fake", "from ..ops.mmd import mmd\nfrom .._utils import check_int"),
        ("domainadapt.feature.fake", "from .coral import CORAL\nimport numpy as np"),
        ("domainadapt.selection.fake", "from ..feature import CORAL\nfrom ..relation import x"),
        ("domainadapt.training.fake", "from ..base import BaseAdapter\nfrom ..ops import mmd"),
        ("domainadapt.pipeline", "from .selection import AutoAdapter"),
    ],
)
def test_checker_accepts_downward_and_same_family_imports(module, source):
    assert _check(module, source) == []


def test_pending_edges_are_skipped_and_nothing_else():
    source = "from ..model.deep import DeepAdapter\nfrom ..feature import CORAL"
    pending = frozenset({("domainadapt.relation.fake", "domainadapt.model.deep")})
    known = [*_KNOWN, "domainadapt.model", "domainadapt.model.deep"]
    (violation,) = find_violations([("domainadapt.relation.fake", False, source)], known, pending)
    assert violation.imported == "domainadapt.feature"


def test_unmapped_top_level_module_is_an_error():
    with pytest.raises(KeyError, match="LAYER_OF_TOP_LEVEL"):
        layer_of("domainadapt.newthing")
