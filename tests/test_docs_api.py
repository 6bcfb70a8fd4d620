"""docs/api.md documents every public name of every package (its ``__all__``)."""

import importlib
import pkgutil
import re
from pathlib import Path

import domainadapt

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _resolve(path):
    """The object ``path`` names: a package attribute, importing the packages on the way."""
    obj = domainadapt
    parts = path.split(".")
    for i, part in enumerate(parts[1:], start=2):
        if not hasattr(obj, part):
            importlib.import_module(".".join(parts[:i]))  # a subpackage not imported yet
        obj = getattr(obj, part)
    return obj


def _public_modules():
    names = ["domainadapt"] + [f"domainadapt.{m.name}" for m in pkgutil.iter_modules(domainadapt.__path__)
                               if not m.name.startswith("_")]
    return [importlib.import_module(name) for name in names]


def test_every_public_name_is_in_the_api_reference():
    # an entry of the autosummary lists or the constants' table, e.g. domainadapt.ops.mmd;
    # a re-exported name counts when the object it names is documented under another path
    documented = {}
    for path in set(re.findall(r"\bdomainadapt(?:\.\w+)+", API.read_text())):
        try:
            obj = _resolve(path)
        except (AttributeError, ImportError):
            continue  # a prose mention such as domainadapt.benchmarks.py
        documented.setdefault(path.rsplit(".", 1)[1], []).append(obj)
    missing = []
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not any(obj is other for other in documented.get(name, ())):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"public names missing from docs/api.md: {missing}"


def test_api_reference_entries_exist():
    listed = re.findall(r"^   (domainadapt[\w.]+)$", API.read_text(), flags=re.M)
    assert len(listed) > 100
    for path in listed:
        _resolve(path)  # an AttributeError names a stale entry
