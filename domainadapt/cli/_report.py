"""Tables, plot and listing of ``domainadapt compare`` (:mod:`domainadapt.cli.compare`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._io import CompareError

__all__ = ["format_text", "format_markdown", "plot_ranking", "list_strategies_and_groups"]


# ----------------------------------------------------------------------------- results
def _ranking_frame(auto: Any, accuracy: dict[str, float] | None) -> Any:
    import pandas as pd

    res = auto.cv_results_
    scorers = [k[6:] for k in res if k.startswith("score_") and k != "score_time"]
    df = pd.DataFrame({
        "rank": res["rank"],
        "candidate": res["candidate"].astype(str),
        "family": res["family"].astype(str),
        **{s: res[f"score_{s}"] for s in scorers},
        "mean_rank": res["mean_rank"],
    })
    if accuracy is not None:
        df["target_accuracy"] = [accuracy.get(c, np.nan) for c in df["candidate"]]
    df["kept"] = df["candidate"] == auto.best_name_
    df["fit_s"] = res["fit_time"]
    df["error"] = res["error"].astype(str)
    return df.sort_values("rank").reset_index(drop=True)


def _cells(df: Any) -> tuple[list[str], list[list[str]]]:
    head = []
    for c in df.columns:
        if c == "kept":
            continue
        head.append({"mean_rank": "mean rank", "target_accuracy": "true target acc",
                     "fit_s": "fit s", "error": "note"}.get(c, c))
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if c == "kept":
                continue
            if c == "candidate":
                cells.append(f"{v} (kept)" if r["kept"] else str(v))
            elif c == "error":
                cells.append(("failed: " if v and not v.startswith("not applicable") else "")
                             + (v[:80] if v else ""))
            elif c in ("rank", "family"):
                cells.append(str(v))
            elif c == "fit_s":
                cells.append(f"{v:.1f}")
            else:
                cells.append("-" if not np.isfinite(v) else f"{v:.3f}")
        rows.append(cells)
    return head, rows


def format_text(df: Any) -> str:
    """Aligned plain-text table (stdout)."""
    head, rows = _cells(df)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def format_markdown(df: Any) -> str:
    head, rows = _cells(df)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        r = [f"**{c}**" if c.endswith("(kept)") else c.replace("|", "/") for c in r]
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def plot_ranking(df: Any, path: Path, title: str) -> None:
    """Grouped horizontal bars: each scorer, the mean rank and the true accuracy if known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [c for c in df.columns if c not in ("rank", "candidate", "family", "kept",
                                                  "fit_s", "error")]
    labels = {"mean_rank": "mean rank (the choice)",
              "target_accuracy": "true target accuracy (not used)"}
    n, k = len(df), len(metrics)
    fig, ax = plt.subplots(figsize=(8, 1.8 + 0.16 * n * (k + 1)))
    height = 0.8 / k
    ys = np.arange(n)[::-1]
    for j, m in enumerate(metrics):
        vals = np.nan_to_num(df[m].to_numpy(dtype=float), nan=0.0)
        kwargs: dict[str, Any] = {}
        if m == "target_accuracy":
            kwargs = {"color": "black", "alpha": 0.75}
        elif m == "mean_rank":
            kwargs = {"hatch": "//", "edgecolor": "white"}
        ax.barh(ys + 0.4 - height * (j + 0.5), vals, height=height,
                label=labels.get(m, f"score: {m}"), **kwargs)
    names = [f"{c} (kept)" if kept else c for c, kept in zip(df["candidate"], df["kept"])]
    names = [f"{nm} [failed]" if err and not err.startswith("not applicable") else
             (f"{nm} [n/a]" if err else nm) for nm, err in zip(names, df["error"])]
    ax.set_yticks(ys)
    ax.set_yticklabels(names)
    for tick, kept in zip(ax.get_yticklabels(), df["kept"]):
        if kept:
            tick.set_fontweight("bold")
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("score (higher is better)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- listing
def list_strategies_and_groups(groups: list[str] | None, data_home: str | None) -> str:
    """Registered strategies (the default portfolio marked) and the benchmark groups."""
    from ..benchmarks import get_tasks
    from ..benchmarks.__main__ import _available_groups
    from ..datasets import get_data_home
    from ..registry import get_adapters
    from ..selection.auto import DEFAULT_DEEP_PORTFOLIO, DEFAULT_PORTFOLIO

    lines = ["Strategies (* = tried by `domainadapt compare` by default; choose others with "
             "--candidates):"]
    for m in get_adapters():
        mark = "*" if m.name in DEFAULT_PORTFOLIO else " "
        deep = " (with --deep)" if m.name in DEFAULT_DEEP_PORTFOLIO else ""
        lines.append(f" {mark} {m.name:24s} {m.family:9s} {m.description}{deep}")
    found, missing = _available_groups(data_home)
    tasks = get_tasks()
    all_groups = list(dict.fromkeys(t.group for t in tasks))
    unknown = [g for g in groups or [] if g not in all_groups]
    if unknown:
        raise CompareError(f"unknown benchmark groups {unknown}; known: {all_groups}")
    shown = groups or all_groups
    lines += ["", f"Benchmark groups (python -m domainadapt.benchmarks --groups ...; data "
                  f"directory {get_data_home(data_home)}):"]
    for g in shown:
        names = [t.name for t in tasks if t.group == g]
        state = "data found" if g in found else "data NOT found (see domainadapt.datasets)"
        lines.append(f"  {g:20s} {len(names):2d} tasks, {state}: {', '.join(names)}")
    return "\n".join(lines)
