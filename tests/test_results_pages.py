"""The committed result pages and docs name no path of the machine that produced them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*ROOT.glob("benchmarks/results/*.md"), *ROOT.glob("docs/*.md"), ROOT / "README.md"])
#: absolute paths of a particular machine: a temporary directory, home directories, the
#: workspace root, a Windows drive (the roots are joined here so this file names none)
_ROOTS = ("tmp/", "home/\\w", "work/", "Users/\\w")
MACHINE_PATH = re.compile(r"(?<![\w.<])(" + "|".join("/" + r for r in _ROOTS) + r"|[A-Z]:\\\\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_names_no_machine_path(page):
    hits = [f"{i}: {line.strip()[:120]}" for i, line in enumerate(page.read_text().splitlines(), 1)
            if MACHINE_PATH.search(line)]
    assert not hits, f"{page.name} names a machine-specific path; use a placeholder:\n" + "\n".join(hits)
