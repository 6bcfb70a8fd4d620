"""The main job: registry-driven runner, results files, failure isolation."""

import csv

import numpy as np

from domainadapt.benchmarks import BenchmarkTask, format_markdown, get_tasks, run_benchmark
from domainadapt.benchmarks.__main__ import main
from domainadapt.datasets import make_shifted_digits
from domainadapt.registry import AdapterEntry, get_adapter


def test_main_job_writes_table_and_csv(tmp_path, capsys):
    # A representative subset of the registered strategies (each family's cheap ones): the
    # contract suite runs every one of them; this checks the runner end to end.
    methods = ["no_adaptation", "coral", "classifier_ratio", "ulsif", "label_propagation"]
    code = main(["--groups", "synthetic", "--seeds", "0", "1", "--output", str(tmp_path),
                 "--no-progress", "--methods", *methods])
    assert code == 0
    out = capsys.readouterr().out
    assert "no_adaptation" in out and "coral" in out
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 2 * len(methods)  # one synthetic task, 2 seeds
    acc = {(r["method"], r["seed"]): float(r["accuracy"]) for r in rows}
    # covariate shift with a misspecified model: reweighting must beat no adaptation
    for seed in ("0", "1"):
        assert acc[("classifier_ratio", seed)] > acc[("no_adaptation", seed)] + 0.2
    assert "gaussian covariate shift" in (tmp_path / "results.md").read_text()


def test_a_failing_strategy_is_recorded_not_fatal(tmp_path):
    def broken(estimator, random_state):
        raise RuntimeError("boom")

    bad = AdapterEntry("broken", "model", broken)
    task = BenchmarkTask("tiny digits", lambda seed: make_shifted_digits(random_state=seed),
                         lambda: get_adapter("no_adaptation").make().estimator, "test")
    rows = run_benchmark([task], [get_adapter("no_adaptation"), bad], seeds=[0],
                         csv_path=tmp_path / "r.csv", progress=False)
    assert rows[1]["error"] == "RuntimeError: boom" and np.isnan(rows[1]["accuracy"])
    assert np.isfinite(rows[0]["accuracy"])
    assert "failed" in format_markdown(rows, [task], [get_adapter("no_adaptation"), bad])
    assert len(list(csv.DictReader(open(tmp_path / "r.csv")))) == 2


def test_real_tasks_are_registered_but_need_data():
    names = {t.name: t for t in get_tasks()}
    assert len([n for n in names if n.startswith("office ")]) == 12
    assert names["office A→W"].needs_data and not names["digits rotation 12°"].needs_data
