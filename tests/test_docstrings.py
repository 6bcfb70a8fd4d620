"""Every registered strategy documents itself the numpydoc way, with an example that runs.

The examples themselves run as doctests (``--doctest-modules`` in ``pyproject.toml``);
this test checks that none is missing and that the sections come in numpydoc order.
That the documented ``n_features_in_`` / ``feature_names_in_`` are set after ``fit`` is
checked by ``test_contract.py`` and ``test_feature_names.py``.
"""

from __future__ import annotations

import inspect
import re

import pytest

from domainadapt.registry import get_adapters

# numpydoc's order of the sections a strategy class is asked to have
REQUIRED = ["Parameters", "Attributes", "See Also", "Examples"]
NUMPYDOC_ORDER = ["Parameters", "Attributes", "See Also", "Notes", "References", "Examples"]


def _strategy_classes() -> list[type]:
    classes: dict[str, type] = {}
    for entry in get_adapters():
        cls = type(entry.make())
        classes.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return list(classes.values())


def _sections(doc: str) -> dict[str, str]:
    """Section name -> its text, in the order they appear (a header is underlined by dashes)."""
    lines = inspect.cleandoc(doc).splitlines()
    heads = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and re.fullmatch(r"-{3,}", lines[i + 1].strip())
        and len(lines[i + 1].strip()) == len(lines[i].strip())
    ]
    out = {}
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        out[lines[i].strip()] = "\n".join(lines[i + 2 : end])
    return out


CLASSES = _strategy_classes()


def test_every_registered_strategy_is_checked():
    assert len(CLASSES) >= 25


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_strategy_docstring_sections(cls):
    doc = cls.__doc__
    assert doc, f"{cls.__name__} has no docstring"
    sections = _sections(doc)
    names = list(sections)
    missing = [name for name in REQUIRED if name not in sections]
    assert not missing, f"{cls.__name__} lacks {missing} (has {names})"
    known = [name for name in names if name in NUMPYDOC_ORDER]
    assert known == sorted(known, key=NUMPYDOC_ORDER.index), (
        f"{cls.__name__}: sections {known} are not in numpydoc order {NUMPYDOC_ORDER}"
    )
    assert re.search(r"^n_features_in_\b", sections["Attributes"], re.M), (
        f"{cls.__name__}: Attributes does not document n_features_in_"
    )
    assert ">>> " in sections["Examples"], f"{cls.__name__}: Examples has no doctest"


# The packages whose public classes must each show a runnable example.
PUBLIC_PACKAGES = [
    "domainadapt",
    "domainadapt.ops",
    "domainadapt.training",
    "domainadapt.selection",
    "domainadapt.instance",
    "domainadapt.feature",
    "domainadapt.model",
    "domainadapt.relation",
    "domainadapt.datasets",
]


def _public_classes() -> list[tuple[str, type]]:
    """``(package.name, class)`` for every class in a public ``__all__`` (an alias
    re-exported by several packages, or under two names, counts once)."""
    import importlib

    found: dict[type, str] = {}
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                found.setdefault(obj, f"{package}.{name}")
    return [(label, cls) for cls, label in found.items()]


PUBLIC_CLASSES = _public_classes()


def test_public_classes_are_found():
    assert len(PUBLIC_CLASSES) >= 70


@pytest.mark.parametrize("cls", [c for _, c in PUBLIC_CLASSES], ids=[n for n, _ in PUBLIC_CLASSES])
def test_public_class_has_an_example(cls):
    """Each public class documents its use with a doctest (run by ``--doctest-modules``)
    in an Examples section, the last numpydoc section."""
    doc = cls.__doc__
    assert doc, f"{cls.__qualname__} has no docstring"
    sections = _sections(doc)
    assert "Examples" in sections, f"{cls.__qualname__} has no Examples section (has {list(sections)})"
    assert ">>> " in sections["Examples"], f"{cls.__qualname__}: Examples has no doctest"
    assert list(sections)[-1] == "Examples", (
        f"{cls.__qualname__}: Examples is not the last section ({list(sections)})"
    )
