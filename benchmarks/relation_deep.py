"""Deep relation-based strategies (CAN, RKD) against source-only on small synthetic shifts.

Target accuracy, mean ± std over seeds (stochastic methods). Data: the rotated and
translated 3-blob shift of the tests (150 + 150 rows), two moons rotated by 40°
(200 + 200), scikit-learn digits with the target half rotated by 12° (898 + 899,
flattened 64 features). CAN and DAN use the default (64, 64) MLP; the RKD rows
compare a small student (one hidden layer of 8) alone, with the default teacher
(a (128, 128) SourceOnly trained first) and with a CAN teacher.

Usage::

    python benchmarks/relation_deep.py [--seeds 5] [--datasets blobs moons digits]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, provenance, table_header, write_report

from domainadapt.datasets import make_rotated_blobs, make_rotated_moons, make_shifted_digits
from domainadapt.model import DAN, SourceOnly
from domainadapt.relation import ClassRelationAlignment, RelationalDistillation

RESULTS = Path(__file__).parent / "results" / "relation_deep.md"
FAST = dict(n_threads=1, progress=False)


def blobs(seed: int, n: int = 150):
    """The rotated and translated three-blob shift (:func:`make_rotated_blobs`), as arrays."""
    source, target = make_rotated_blobs(n, n, random_state=seed)
    return source.X, source.y, target.X, target.y


def moons(seed: int):
    s, t = make_rotated_moons(200, 200, angle=40, random_state=seed)
    return s.X, s.y, t.X, t.y


def digits(seed: int):
    s, t = make_shifted_digits(shift="rotation", random_state=seed)
    return s.X.reshape(len(s.X), -1), s.y, t.X.reshape(len(t.X), -1), t.y


DATASETS = {
    "blobs": (blobs, dict(n_epochs=40, batch_size=32, lr=3e-3)),
    "moons": (moons, dict(n_epochs=60, batch_size=64, lr=1e-3)),
    "digits": (digits, dict(n_epochs=30, batch_size=64, lr=3e-3)),
}


def methods(train: dict, seed: int) -> dict:
    kw = dict(random_state=seed, **train, **FAST)
    small = dict(kw, hidden_sizes=(8,), n_epochs=int(train["n_epochs"] * 1.5))

    def can_teacher():
        return ClassRelationAlignment(contrastive=False, **kw)

    return {
        "SourceOnly (64, 64)": lambda: SourceOnly(**kw),
        "DAN (64, 64)": lambda: DAN(**kw),
        "CAN (64, 64), CDD": lambda: ClassRelationAlignment(**kw),
        "CAN (64, 64), class-conditional MMD": can_teacher,
        "student (8,) alone": lambda: SourceOnly(**small),
        "student + RKD, default teacher": lambda: RelationalDistillation(**small),
        "student + RKD + KD, default teacher": lambda: RelationalDistillation(
            kd_weight=1.0, **small
        ),
        "student + RKD, CAN teacher": lambda: RelationalDistillation(
            teacher=can_teacher(), **small
        ),
        "student + KD only, CAN teacher": lambda: RelationalDistillation(
            teacher=can_teacher(), distance_weight=0.0, angle_weight=0.0, kd_weight=1.0, **small
        ),
        "student + RKD + KD, CAN teacher": lambda: RelationalDistillation(
            teacher=can_teacher(), kd_weight=1.0, **small
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = ap.parse_args()
    names = list(methods(DATASETS["blobs"][1], 0))
    acc = {d: {m: [] for m in names} for d in args.datasets}
    secs = {m: 0.0 for m in names}
    started = time.perf_counter()
    for d in args.datasets:
        make, train = DATASETS[d]
        for seed in range(args.seeds):
            Xs, ys, Xt, yt = make(seed)
            for m, build in methods(train, seed).items():
                t0 = time.perf_counter()
                acc[d][m].append(100 * build().fit((Xs, ys), Xt).score(Xt, yt))
                secs[m] += time.perf_counter() - t0
            print(d, seed, {m: round(v[-1], 1) for m, v in acc[d].items()}, flush=True)
    lines = [
        provenance(
            command_line(__file__),
            seconds=time.perf_counter() - started,
            detail=f"(target accuracy in %, mean ± std over {args.seeds} seeds "
            f"0..{args.seeds - 1}; time is the total over all fits)",
        ),
        "",
        f"- Machine: {machine_info()} (shared with other jobs).",
        "",
        *table_header(["method", *args.datasets, "time (s)"]),
    ]
    for m in names:
        cells = [f"{np.mean(acc[d][m]):.1f} ± {np.std(acc[d][m]):.1f}" for d in args.datasets]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {secs[m]:.0f} |")
    print(write_report(RESULTS, "Deep relation-based strategies on synthetic shifts", lines))


if __name__ == "__main__":
    main()
