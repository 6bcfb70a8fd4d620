"""What every benchmark script writes the same way: machine info and the Markdown report.

The scripts run as ``python benchmarks/<script>.py``, so this module is imported as
``from _common import ...`` (the script's folder is first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "command_line",
    "machine_info",
    "provenance",
    "table_header",
    "write_report",
]


def _cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _ram_gib() -> float | None:
    """Physical memory in GiB (None where ``sysconf`` does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def machine_info(device: str = "cpu") -> str:
    """One line describing the machine and software a benchmark ran on.

    Parameters
    ----------
    device : str, default="cpu"
        The torch device the benchmark used; with ``"cuda"`` the GPU's name is added.

    Returns
    -------
    info : str
        OS and architecture, CPU model, logical cores, RAM; Python, and torch's version
        and intra-op threads when torch is importable.
    """
    ram = _ram_gib()
    info = (
        f"{platform.system()} {platform.machine()}, CPU {_cpu_model()}, "
        f"{os.cpu_count()} logical cores"
        + (f", {ram:.1f} GiB RAM" if ram is not None else "")
        + f"; Python {platform.python_version()}"
    )
    try:
        import torch
    except ImportError:
        return info
    info += f", torch {torch.__version__}, torch threads {torch.get_num_threads()}"
    if device.startswith("cuda") and torch.cuda.is_available():
        info += f", GPU {torch.cuda.get_device_name()}"
    return info


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """``python benchmarks/<script> <arguments>``: how a report was produced.

    Parameters
    ----------
    script : str
        The script's path (its ``__file__``); only the file name is kept.
    argv : sequence of str, optional
        The arguments given to its ``main``; ``sys.argv[1:]`` when None.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", f"benchmarks/{Path(script).name}", *arguments])


def provenance(
    command: str, *, seconds: float | None = None, verb: str = "Generated", detail: str = ""
) -> str:
    """The report's first sentence: when, by which command, in how long.

    Parameters
    ----------
    command : str
        The command line (see :func:`command_line`).
    seconds : float, optional
        Wall time of the run, written in minutes.
    verb : str, default="Generated"
        E.g. ``"Rendered"`` for a report rebuilt from an earlier run's log.
    detail : str, default=""
        Appended before the final full stop.

    Returns
    -------
    sentence : str
        ``"Generated 2026-01-31 12:00 UTC by `python benchmarks/x.py` in 1.5 min."``
    """
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sentence = f"{verb} {stamp} by `{command.strip()}`"
    if seconds is not None:
        sentence += f" in {seconds / 60:.1f} min"
    if detail:
        sentence += f" {detail}"
    return sentence.rstrip(".") + "."


def table_header(columns: Sequence[str]) -> list[str]:
    """The header row and separator row of a Markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def write_report(out: Path | str, title: str, lines: Iterable[str]) -> str:
    """Write a Markdown report: ``# title``, a blank line, then ``lines``.

    Parameters
    ----------
    out : path
        The file to write; its folder is created.
    title : str
        The report's heading.
    lines : iterable of str
        The body, one string per line (a string may hold several lines).

    Returns
    -------
    text : str
        What was written (ending with one newline).
    """
    text = "\n".join([f"# {title}", "", *lines]).rstrip("\n") + "\n"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"\nwritten to {out}")
    return text
