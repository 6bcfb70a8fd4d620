"""Other selection rules replayed on the candidates ``AutoAdapter`` fitted (``*.scores.csv``).

``benchmarks/auto.py`` writes, per task and seed, every candidate's scores and true target
accuracy. Any rule "rank the candidates by the mean rank over a set of scorers, keep the
first, optionally fall back to no adaptation when a strict majority of those scorers rate
it below no adaptation" (``AutoAdapter``'s ``guard="harm"``; ``"lead"``, its guard in
0.2.0, falls back unless a strict majority rate it at least as high) can then be
evaluated without refitting. This
module does it for every set of one to three scorers, in sample (all collections) and
leave-one-collection-out (the rule is chosen on the other collections, then judged on the
held-out one), so that the report says whether another default would have met the goals
and whether such a choice would generalise.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from scipy.stats import rankdata

from domainadapt.selection.auto import _guard_veto

#: Columns of ``*.scores.csv`` that are not scorers.
NOT_SCORERS = ("task", "seed", "candidate", "target_accuracy", "ensemble", "guard_z")
BASELINE = "no_adaptation"


def _problems(score_rows: list[dict], group_of: dict[str, str], scorers: list[str]) -> list:
    by_key = defaultdict(list)
    for r in score_rows:
        by_key[(r["task"], r["seed"])].append(r)
    problems = []
    for (task, _), rows in by_key.items():
        names = [r["candidate"] for r in rows]
        if BASELINE not in names:
            continue
        raw = np.array([[float(r[s]) for s in scorers] for r in rows], dtype=float)
        values = np.where(np.isfinite(raw), raw, -np.inf)
        ranks = np.column_stack([rankdata(values[:, j]) for j in range(len(scorers))])
        z = np.array([float(r.get("guard_z") or "nan") for r in rows], dtype=float)
        problems.append({"task": task, "group": group_of[task], "values": raw, "z": z,
                         "ranks": ranks, "base": names.index(BASELINE),
                         "acc": 100 * np.array([float(r["target_accuracy"]) for r in rows])})
    return problems


def _evaluate(problems: list, members: list[int], guard: str | None,
              z_needed: float | None = None) -> dict:
    """Per task (mean over seeds): gain of the kept candidate over no adaptation.

    ``guard``: None, ``"harm"`` or ``"lead"``, decided by ``AutoAdapter``'s own rule. With
    ``z_needed``, the guard also uses the candidate's recorded paired evidence
    (``guard_z``, computed by AutoAdapter for its default scorers); without it, only the
    majority rule.
    """
    gains, accs = defaultdict(list), defaultdict(list)
    for p in problems:
        i = int(np.argmax(p["ranks"][:, members].mean(axis=1)))
        if guard and i != p["base"] and _guard_veto(
                guard, p["values"][i, members], p["values"][p["base"], members],
                p["z"][i] if z_needed is not None else np.nan,
                np.nan if z_needed is None else z_needed):
            i = p["base"]
        gains[(p["group"], p["task"])].append(p["acc"][i] - p["acc"][p["base"]])
        accs[p["group"]].append(p["acc"][i])
    return {"gain": {k: float(np.mean(v)) for k, v in gains.items()},
            "acc": {g: float(np.mean(v)) for g, v in accs.items()}}


def format_rules(score_rows: list[dict], group_of: dict[str, str],
                 default_members: list[str], default_guard: str = "harm",
                 tolerance: float = 0.5, gap_goal: float = 1.5,
                 z_needed: float | None = None,
                 previous_members: list[str] | None = None) -> str:
    """A Markdown section: the default rule, the best rules in sample, and leave-one-out."""
    scorers = [c for c in score_rows[0] if c not in NOT_SCORERS]
    problems = _problems(score_rows, group_of, scorers)
    groups = sorted({p["group"] for p in problems})
    # oracle per collection: the candidate name with the best mean accuracy there
    acc_by = defaultdict(lambda: defaultdict(list))
    for r in score_rows:
        if r["task"] in group_of:
            acc_by[group_of[r["task"]]][r["candidate"]].append(100 * float(r["target_accuracy"]))
    oracle = {g: max(np.mean(v) for v in acc_by[g].values()) for g in groups}

    def rule_of(member_names, guard, z=None):
        members = [scorers.index(m) for m in member_names if m in scorers]
        if len(members) != len(member_names):
            return None
        res = _evaluate(problems, members, guard, z)
        return {"members": list(member_names), "guard": guard,
                "bad": {g: sum(1 for (gg, _), v in res["gain"].items()
                               if gg == g and v < -tolerance) for g in groups},
                "gap": {g: res["acc"][g] - oracle[g] for g in groups},
                "worst": min(res["gain"].values()),
                "mean_gain": float(np.mean(list(res["gain"].values())))}

    rules = []
    for size in (1, 2, 3):
        for members in itertools.combinations(scorers, size):
            for guard in (None, "harm"):
                if guard and size <= 2:
                    continue  # the best-ranked of one or two members is never below on most
                rules.append(rule_of(list(members), guard))

    def cost(rule, among):
        # both goals at once: tasks below no adaptation - tolerance, plus the mean
        # shortfall (points) beyond the gap goal over the collections
        return (sum(rule["bad"][g] for g in among)
                + float(np.mean([max(0.0, -gap_goal - rule["gap"][g]) for g in among])))

    def row(label, rule):
        gaps = " | ".join(f"{rule['gap'][g]:+.1f}" for g in groups)
        return (f"| {label} | {' + '.join(rule['members'])} | {rule['guard'] or 'no'} "
                f"| {sum(rule['bad'].values())} | {rule['worst']:+.1f} | {rule['mean_gain']:+.1f} "
                f"| {gaps} |")

    default = rule_of(default_members, default_guard)
    ranked = sorted(rules, key=lambda r: cost(r, groups))
    header = ("| rule | scorers (mean rank) | guard | tasks < no adapt. − 0.5 | worst task | "
              "mean gain | " + " | ".join(f"gap {g}" for g in groups) + " |")
    lines = [
        "## Other selection rules on the same fits",
        "",
        f"Replayed from the `.scores.csv` files: {len(rules)} rules (every set of 1 to 3 of the "
        f"scorers {', '.join(scorers)}, ranked by mean rank; sets of three also with the "
        "majority rule of `guard=\"harm\"`) on the candidates AutoAdapter fitted on its "
        "training part of the source. "
        "`gap`: the kept candidate's mean target accuracy minus the oracle-best candidate's "
        "mean on that collection (points). Ranked by a cost that counts both goals: the number "
        f"of tasks below no adaptation − {tolerance} plus the mean shortfall (points) beyond "
        f"a gap of −{gap_goal} over the collections.",
        "",
        header,
        "|" + "---|" * (6 + len(groups)),
    ]
    has_z = any(np.isfinite(p["z"]).any() for p in problems)
    if default is not None and z_needed is not None and has_z:
        sign = "≤ −" if default_guard == "harm" else "≥ "
        lines.append(row(f"**default** (majority + paired z {sign}{z_needed:.2f})",
                         rule_of(default_members, default_guard, z_needed)))
        lines.append(row("the default's scorers, majority rule only", default))
    elif default is not None:
        lines.append(row("**default**", default))
    if previous_members:
        previous = rule_of(previous_members, "lead")
        if previous is not None:
            lines.append(row("0.2.0's scorers, its guard's majority rule", previous))
    for k, rule in enumerate(ranked[:8], 1):
        lines.append(row(f"in sample #{k}", rule))
    lines += [
        "",
        "Leave one collection out: the rule with the lowest cost on the other collections, "
        "judged on the held-out one (an honest estimate of choosing the rule from these "
        "data).",
        "",
        "| held-out collection | rule chosen on the others | guard | tasks < no adapt. − "
        f"{tolerance} | gap to oracle | the default's gap |",
        "|---|---|---|---|---|---|",
    ]
    for held in groups:
        others = [g for g in groups if g != held]
        best = min(rules, key=lambda r: cost(r, others))
        default_gap = f"{default['gap'][held]:+.1f}" if default is not None else "n/a"
        lines.append(f"| {held} | {' + '.join(best['members'])} | "
                     f"{best['guard'] or 'no'} | {best['bad'][held]} | "
                     f"{best['gap'][held]:+.1f} | {default_gap} |")
    return "\n".join(lines) + "\n"
