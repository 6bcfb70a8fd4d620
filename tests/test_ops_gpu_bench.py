"""``benchmarks/gpu.py`` (issue #11's one GPU command) works before a GPU session needs it.

Without CUDA it must refuse clearly (exit 2) unless ``--allow-cpu``; with it, tiny CPU
sizes go through every code path that writes the report.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def gpu_bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("_gpu_bench_under_test", BENCH / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_refuses_without_cuda(gpu_bench, tmp_path, capsys):
    out = tmp_path / "gpu.md"
    assert gpu_bench.main(["--quick", "--out", str(out)]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not out.exists()


def test_allow_cpu_quick_writes_both_tables(gpu_bench, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_bench, "SIZES_CPU", [(100, 8), (300, 512)])
    monkeypatch.setattr(gpu_bench, "DEEP_METHODS_CPU", ["DANN", "DAN"])
    out = tmp_path / "gpu.md"
    assert gpu_bench.main(["--allow-cpu", "--quick", "--out", str(out), "--repeats", "1"]) == 0
    text = out.read_text()
    if not torch.cuda.is_available():
        assert "no CUDA: CPU check of the script" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    mmd_rows = [r for r in rows if r.startswith(("| 100 ", "| 300 "))]
    assert len(mmd_rows) == 2
    cells = [c.strip() for c in mmd_rows[1].strip("|").split("|")]
    assert cells[2] == "256"  # the CPU tile for n + m = 600
    assert float(cells[3]) > 0 and float(cells[7]) > 0  # tiled and direct timed
    assert float(cells[11]) > 0  # roofline ratio at d = 512
    assert "| DANN | " in text and text.split("| DANN | ")[1].split("|")[1].strip() == "1.00"
    assert "| DAN | " in text


def test_direct_mmd_matches_the_library(gpu_bench):
    from domainadapt.ops import mmd

    X, Y = torch.randn(60, 5, dtype=torch.float64), torch.randn(50, 5, dtype=torch.float64)
    sigma = torch.tensor(1.7, dtype=torch.float64)
    ref = mmd(X, Y, bandwidth=sigma, multipliers=gpu_bench.MULTIPLIERS)
    assert float(gpu_bench.direct_mmd(X, Y, sigma)) == pytest.approx(float(ref), rel=1e-10)


def test_tune_fused_reports_why_it_cannot_run_here(gpu_bench, monkeypatch):
    from domainadapt.ops import _fused

    monkeypatch.setattr(_fused, "triton_unavailable_reason", lambda dev, dt: "no fused here")
    rows = gpu_bench.tune_fused(torch.device("cpu"), 1, [(32, 4)])
    assert rows == ["| 32 | 4 | - | no fused here | - |"]
    assert _fused.BLOCK_OVERRIDES == {}
