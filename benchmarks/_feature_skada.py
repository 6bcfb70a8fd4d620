"""Optional skada (scikit-adaptation) columns of ``feature_tables.py``: its adapters run
through its own pipeline on the same data and classifier."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from domainadapt import Domain


def skada_available() -> bool:
    try:
        import skada  # noqa: F401
    except ImportError:
        return False
    return True


def skada_adapters(settings: str) -> dict[str, Callable]:
    """skada's adapters with their defaults, or with the settings of our rows."""
    import skada

    if settings == "default":
        return {
            "SA": lambda: skada.SubspaceAlignmentAdapter(),
            "TCA": lambda: skada.TransferComponentAnalysisAdapter(),
            "CORAL": lambda: skada.CORALAdapter(),
            "OT": lambda: skada.OTMappingAdapter(),
        }
    return {
        "SA": lambda: skada.SubspaceAlignmentAdapter(n_components=50),
        "TCA": lambda: skada.TransferComponentAnalysisAdapter(
            kernel="linear", n_components=100, mu=0.1
        ),
        "CORAL": lambda: skada.CORALAdapter(reg=1.0),
        "OT": lambda: skada.EntropicOTMappingAdapter(reg_e=0.1, norm="median"),
    }


def skada_score(make_adapter, clf, source: Domain, target: Domain) -> float:
    from skada import make_da_pipeline

    X = np.vstack([source.X, target.X])
    y = np.concatenate([source.y, -np.ones(len(target.X), dtype=source.y.dtype)])
    sd = np.concatenate([np.ones(len(source.X), dtype=int), -np.ones(len(target.X), dtype=int)])
    pipe = make_da_pipeline(make_adapter(), clf)
    pipe.fit(X, y, sample_domain=sd)
    pred = pipe.predict(target.X, sample_domain=-np.ones(len(target.X), dtype=int))
    return float(np.mean(pred == target.y))
