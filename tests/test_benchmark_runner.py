"""The main job: registry-driven runner, results files, failure isolation."""

import csv

import numpy as np

from domainadapt.benchmarks import (
    BenchmarkTask,
    family_baseline,
    format_collections,
    format_markdown,
    get_tasks,
    run_benchmark,
    with_baselines,
)
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


def _fake_rows(accuracies):
    """Result rows as run_benchmark returns them, from ``{(task, method): [acc per seed]}``."""
    return [{"task": task, "method": method, "family": "", "seed": seed, "accuracy": acc,
             "fit_seconds": 0.0, "error": "", "warnings": ""}
            for (task, method), values in accuracies.items() for seed, acc in enumerate(values)]


def test_each_strategy_is_compared_with_its_own_family_baseline():
    names = ["no_adaptation", "coral", "source_only", "dann", "class_relation_alignment"]
    methods = [get_adapter(n) for n in names]
    assert [family_baseline(m) for m in methods] == [
        None, "no_adaptation", None, "source_only", "source_only"]
    tasks = [BenchmarkTask(t, None, None, "fake", group="fake") for t in ("t1", "t2")]
    rows = _fake_rows({
        ("t1", "no_adaptation"): [0.50, 0.50], ("t2", "no_adaptation"): [0.60, 0.60],
        ("t1", "coral"): [0.70, 0.70], ("t2", "coral"): [0.60, 0.60],
        ("t1", "source_only"): [0.90, 0.94], ("t2", "source_only"): [0.80, 0.80],
        ("t1", "dann"): [0.95, 0.95], ("t2", "dann"): [0.75, 0.75],
        ("t1", "class_relation_alignment"): [0.92, 0.92], ("t2", "class_relation_alignment"):
            [0.80, 0.80],
    })
    table = {line.split(" | ")[0].strip("| "): line.split(" | ")
             for line in format_markdown(rows, tasks, methods).splitlines()[2:]}
    # dann: its accuracy minus source_only's (92 on t1), not minus no_adaptation's (50)
    assert table["dann"][1] == "source_only"
    assert table["dann"][2] == "95.0 ± 0.0 (+3.0)" and table["dann"][3] == "75.0 ± 0.0 (-5.0)"
    assert table["coral"][1] == "no_adaptation" and table["coral"][2] == "70.0 ± 0.0 (+20.0)"
    assert table["source_only"][1] == "(baseline)" and "(" not in table["source_only"][2]
    assert table["dann"][4].startswith("85.0 (-1.0)")  # mean accuracy (mean gain)
    collections = {line.split(" | ")[0].strip("| "): line.split(" | ")
                   for line in format_collections(rows, tasks, methods).splitlines()[2:]}
    assert set(collections) == {"coral", "dann", "class_relation_alignment"}  # no baselines
    assert collections["dann"][1:] == ["source_only", "-1.0 (1/1, worst -5.0) |"]
    assert collections["coral"][2] == "+10.0 (1/0, worst +0.0) |"
    # one baseline for every method when asked (the former behaviour)
    against_na = format_markdown(rows, tasks, methods, baseline="no_adaptation")
    assert "95.0 ± 0.0 (+45.0)" in against_na


def test_a_missing_family_baseline_is_added():
    methods, added = with_baselines([get_adapter("dann"), get_adapter("coral")])
    assert added == ["no_adaptation", "source_only"]
    assert [m.name for m in methods] == ["no_adaptation", "source_only", "dann", "coral"]
    methods, added = with_baselines([get_adapter("source_only"), get_adapter("dcoral")])
    assert added == [] and [m.name for m in methods] == ["source_only", "dcoral"]
