"""``domainadapt compare``: a newcomer's own files in, the ranking of the strategies out."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from domainadapt.cli import main as cli_main
from domainadapt.cli.compare import main
from domainadapt.datasets import make_shifted_digits

FAST = ["--candidates", "no_adaptation", "coral", "subspace_alignment", "--no-shift-report"]


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    """Shifted digits (rotation) as two CSV files with named columns, labels in 'digit'."""
    d = tmp_path_factory.mktemp("digits")
    source, target = make_shifted_digits("rotation", random_state=0, n_target=300)
    cols = [f"px{i}" for i in range(source.X.shape[1])]
    s = pd.DataFrame(source.X[:400], columns=cols).assign(digit=source.y[:400])
    t = pd.DataFrame(target.X, columns=cols).assign(digit=target.y)
    s.to_csv(d / "s.csv", index=False)
    t.to_csv(d / "t.csv", index=False)
    t.drop(columns="digit").to_csv(d / "t_unlabelled.csv", index=False)
    np.savez(d / "s.npz", X=source.X[:400], y=source.y[:400])
    np.savez(d / "t.npz", X=target.X, y=target.y)
    return d


def _table_rows(out: str) -> dict[str, str]:
    """candidate name -> its line of the printed table."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0].isdigit():
            rows[parts[1]] = line
    return rows


def test_table_lists_every_candidate_and_marks_the_kept_one(digits_files, capsys):
    code = main(["--source", str(digits_files / "s.csv"), "--target",
                 str(digits_files / "t_unlabelled.csv"), "--label-column", "digit",
                 "--quiet", *FAST])
    assert code == 0
    out = capsys.readouterr().out
    rows = _table_rows(out)
    assert set(rows) == {"no_adaptation", "coral", "subspace_alignment"}
    kept = [name for name, line in rows.items() if "(kept)" in line]
    assert len(kept) == 1
    assert f"Kept: {kept[0]}" in out
    assert "true target acc" not in out  # no target labels given


def test_default_portfolio_with_shift_report(digits_files, capsys):
    code = main(["--source", str(digits_files / "s.csv"), "--target",
                 str(digits_files / "t.csv"), "--label-column", "digit"])
    assert code == 0
    captured = capsys.readouterr()
    assert "Shift diagnostics: proxy A-distance" in captured.out
    from domainadapt.selection.auto import DEFAULT_PORTFOLIO

    assert set(_table_rows(captured.out)) == set(DEFAULT_PORTFOLIO)
    # progress on stderr, and the target's own label column is not taken for a feature
    assert "reading" in captured.err and "--target-labels digit" in captured.err


def test_target_labels_add_true_accuracy_but_never_change_the_choice(digits_files, tmp_path,
                                                                    capsys):
    t = pd.read_csv(digits_files / "t.csv")
    shuffled = t.assign(digit=np.random.default_rng(0).permutation(t["digit"].to_numpy()))
    shuffled.to_csv(tmp_path / "t_shuffled.csv", index=False)
    results = {}
    for name, target in [("true", digits_files / "t.csv"),
                         ("shuffled", tmp_path / "t_shuffled.csv")]:
        out_dir = tmp_path / name
        code = main(["--source", str(digits_files / "s.csv"), "--target", str(target),
                     "--label-column", "digit", "--target-labels", "digit", "--quiet",
                     "--output", str(out_dir), *FAST])
        assert code == 0
        out = capsys.readouterr().out
        assert "true target acc" in out and "for reporting only" in out
        results[name] = pd.read_csv(out_dir / "ranking.csv")
    true, shuffled_res = results["true"], results["shuffled"]
    assert "target_accuracy" in true.columns
    # the unsupervised scores and the choice do not depend on the target labels
    for col in ("candidate", "reverse", "class_ami", "mean_rank", "kept"):
        pd.testing.assert_series_equal(true[col], shuffled_res[col])
    # true labels: digits under rotation are well above chance; shuffled ones are not
    assert true["target_accuracy"].min() > 0.5
    assert shuffled_res["target_accuracy"].max() < 0.3


def test_true_accuracy_matches_the_candidates_predictions(digits_files, tmp_path, capsys):
    from domainadapt import Domain
    from domainadapt.selection import AutoAdapter

    assert main(["--source", str(digits_files / "s.npz"), "--target",
                 str(digits_files / "t.npz"), "--target-labels", "y", "--quiet",
                 "--output", str(tmp_path), "--seed", "3", *FAST]) == 0
    res = pd.read_csv(tmp_path / "ranking.csv")
    s, t = np.load(digits_files / "s.npz"), np.load(digits_files / "t.npz")
    auto = AutoAdapter(candidates=FAST[1:4], random_state=3, progress=False)
    auto.fit(Domain(s["X"].astype(float), s["y"]), t["X"].astype(float))
    for name, adapter in auto.candidates_.items():
        expected = np.mean(adapter.predict(t["X"].astype(float)) == t["y"])
        got = res.loc[res["candidate"] == name, "target_accuracy"].item()
        assert got == pytest.approx(expected)
    assert res.loc[res["kept"], "candidate"].item() == auto.best_name_


def test_output_files(digits_files, tmp_path, capsys):
    assert main(["--source", str(digits_files / "s.csv"), "--target",
                 str(digits_files / "t.csv"), "--label-column", "digit", "--quiet",
                 "--target-labels", "digit", "--output", str(tmp_path / "out"), *FAST]) == 0
    out = tmp_path / "out"
    csv = pd.read_csv(out / "ranking.csv")
    assert len(csv) == 3 and csv["kept"].sum() == 1
    md = (out / "ranking.md").read_text()
    assert "| rank | candidate |" in md and "(kept)**" in md and "true target acc" in md
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the plot is optional: no figure, the tables still written
        assert not (out / "ranking.png").exists()
        return
    png = (out / "ranking.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_max_rows_subsamples_and_says_so(digits_files, capsys):
    assert main(["--source", str(digits_files / "s.csv"), "--target",
                 str(digits_files / "t.csv"), "--label-column", "digit", "--quiet",
                 "--max-rows", "200", *FAST]) == 0
    out = capsys.readouterr().out
    assert "source 400 -> 200" in out and "target 300 -> 200" in out


# ------------------------------------------------------------------------------ errors
def _error(argv, capsys) -> str:
    code = main(argv)
    assert code == 2
    return capsys.readouterr().err


def test_missing_file_is_named(digits_files, capsys):
    err = _error(["--source", "nowhere.csv", "--target", str(digits_files / "t.csv"),
                  "--label-column", "digit"], capsys)
    assert "source file 'nowhere.csv' does not exist" in err
    assert "Traceback" not in err


def test_missing_label_column_lists_the_columns(digits_files, capsys):
    err = _error(["--source", str(digits_files / "s.csv"), "--target",
                  str(digits_files / "t.csv"), "--label-column", "label"], capsys)
    assert "no label column 'label'" in err and "px0, px1" in err and "digit" in err


def test_missing_target_labels_column(digits_files, capsys):
    err = _error(["--source", str(digits_files / "s.csv"), "--target",
                  str(digits_files / "t_unlabelled.csv"), "--label-column", "digit",
                  "--target-labels", "digit"], capsys)
    assert "target file" in err and "no label column 'digit'" in err


def test_different_feature_columns_are_named(tmp_path, capsys):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40),
                  "y": rng.integers(0, 2, 40)}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"a": rng.normal(size=40), "c": rng.normal(size=40)}).to_csv(
        tmp_path / "t.csv", index=False)
    err = _error(["--source", str(tmp_path / "s.csv"), "--target", str(tmp_path / "t.csv")],
                 capsys)
    assert "different feature columns" in err
    assert "only in the source: b" in err and "only in the target: c" in err


def test_non_numeric_columns_are_named_with_a_hint(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "colour": ["red", "blue"] * 20,
                          "y": rng.integers(0, 2, 40)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    frame.drop(columns="y").to_csv(tmp_path / "t.csv", index=False)
    err = _error(["--source", str(tmp_path / "s.csv"), "--target", str(tmp_path / "t.csv")],
                 capsys)
    assert "non-numeric feature columns: colour" in err and "one-hot" in err


def test_columns_in_another_order_and_string_labels_are_fine(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    X = rng.normal(size=(120, 2)) + 2 * y[:, None]
    labels = np.array(["cat", "dog"])[y]
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "kind": labels}).to_csv(tmp_path / "s.csv",
                                                                      index=False)
    pd.DataFrame({"b": X[:, 1] + 0.3, "kind": labels, "a": X[:, 0] + 0.3}).to_csv(
        tmp_path / "t.csv", index=False)
    assert main(["--source", str(tmp_path / "s.csv"), "--target", str(tmp_path / "t.csv"),
                 "--label-column", "kind", "--target-labels", "kind", "--quiet",
                 "--output", str(tmp_path / "o"), *FAST]) == 0
    assert pd.read_csv(tmp_path / "o" / "ranking.csv")["target_accuracy"].min() > 0.8


def test_parquet_reads_or_says_what_is_missing(digits_files, tmp_path, capsys):
    frame = pd.read_csv(digits_files / "s.csv")
    try:
        frame.to_parquet(tmp_path / "s.parquet")
    except ImportError:
        (tmp_path / "s.parquet").write_bytes(b"not parquet")
        err = _error(["--source", str(tmp_path / "s.parquet"), "--target",
                      str(digits_files / "t.csv"), "--label-column", "digit"], capsys)
        assert "pyarrow" in err
        return
    assert main(["--source", str(tmp_path / "s.parquet"), "--target",
                 str(digits_files / "t.csv"), "--label-column", "digit", "--quiet",
                 *FAST]) == 0


def test_npz_without_X(tmp_path, digits_files, capsys):
    np.savez(tmp_path / "bad.npz", features=np.zeros((5, 2)))
    err = _error(["--source", str(tmp_path / "bad.npz"), "--target",
                  str(digits_files / "t.npz")], capsys)
    assert "no array 'X'" in err and "features" in err


def test_unknown_candidate(digits_files, capsys):
    err = _error(["--source", str(digits_files / "s.csv"), "--target",
                  str(digits_files / "t.csv"), "--label-column", "digit",
                  "--candidates", "magic"], capsys)
    assert "unknown strategy 'magic'" in err and "coral" in err


# ------------------------------------------------------------------------------ listing, entry points
def test_list_without_the_data(tmp_path, capsys):
    assert main(["--list", "--groups", "office-caltech", "--data-home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "coral" in out and "office-caltech" in out and "NOT found" in out
    # the benchmark runner lists too instead of refusing the absent data
    assert cli_main(["--groups", "office-caltech", "--list", "--data-home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "office A→C" in out and "data not found" in out


def test_command_dispatch(capsys):
    assert cli_main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out
    assert cli_main(["benchmark", "--list", "--groups", "synthetic"]) == 0
    assert "gaussian" in capsys.readouterr().out.lower()
    with pytest.raises(SystemExit):
        cli_main(["compare", "--source", "s.csv"])  # --target missing: argparse usage error
    assert "--target" in capsys.readouterr().err


def test_python_dash_m(digits_files):
    run = subprocess.run([sys.executable, "-m", "domainadapt", "compare", "--source",
                          str(digits_files / "s.csv"), "--target", str(digits_files / "t.csv"),
                          "--label-column", "digit", *FAST], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "(kept)" in run.stdout and "reading" in run.stderr
    assert "reading" not in run.stdout


def test_unlabelled_target_rows_are_left_out_of_the_accuracy(tmp_path, capsys):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 160)
    X = rng.normal(size=(160, 3)) + 2.5 * y[:, None]
    pd.DataFrame(X, columns=list("abc")).assign(y=y).to_csv(tmp_path / "s.csv", index=False)
    y_t = y.astype(float)
    y_t[:60] = np.nan  # only 100 target rows are labelled
    pd.DataFrame(X + 0.2, columns=list("abc")).assign(y=y_t).to_csv(tmp_path / "t.csv",
                                                                    index=False)
    assert main(["--source", str(tmp_path / "s.csv"), "--target", str(tmp_path / "t.csv"),
                 "--target-labels", "y", "--estimator", "random-forest", "--quiet",
                 "--output", str(tmp_path / "o"), *FAST]) == 0
    assert "accuracy on the 100 labelled target rows" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "o" / "ranking.csv")["target_accuracy"].min() > 0.9
