"""The candidate search behind :class:`~domainadapt.selection.AutoAdapter`.

Resolving the candidate strategies, fitting one and scoring it (a candidate whose
assumptions do not hold, by its own :class:`~domainadapt.NotApplicableWarning`, is
set aside), and the ensemble agreement computed over all fitted candidates.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from .._domain import Domain
from ..base import BaseAdapter
from ..exceptions import NotApplicableWarning
from ._ensemble import ensemble_agreement_rows
from ._scorer_base import DomainScorer

#: Registered strategies tried by default: one or more per family, all shallow.
DEFAULT_PORTFOLIO = (
    "no_adaptation",
    "coral",
    "subspace_alignment",
    "tca",
    "jda",
    "gfk",
    "jgsa",
    "meda",
    "ot_mapping",
    "kliep",
    "classifier_ratio",
    "label_propagation",
    "msda",
)
#: Added with ``deep=True``.
DEFAULT_DEEP_PORTFOLIO = ("source_only", "dann", "cdan")


def _resolve_candidates(candidates: Any, deep: bool, estimator: Any,
                        random_state: Any) -> dict[str, BaseAdapter]:
    from ..registry import get_adapter

    if candidates is None:
        names = list(DEFAULT_PORTFOLIO) + (list(DEFAULT_DEEP_PORTFOLIO) if deep else [])
        items: list[tuple[str, Any]] = [(n, n) for n in names]
    elif isinstance(candidates, Mapping):
        items = list(candidates.items())
    elif isinstance(candidates, Sequence) and not isinstance(candidates, str):
        items = []
        for c in candidates:
            if isinstance(c, str):
                items.append((c, c))
            elif isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
                items.append(c)
            else:
                items.append((type(c).__name__, c))
    else:
        raise TypeError(
            "candidates must be None (the default portfolio), a list of registered names or "
            f"adapters, or a dict name -> adapter; got {type(candidates).__name__}."
        )
    out: dict[str, BaseAdapter] = {}
    for name, c in items:
        if isinstance(c, str):
            try:
                entry = get_adapter(c)
            except KeyError as exc:
                raise ValueError(f"candidates: {exc.args[0]}") from None
            adapter = entry.make(clone(estimator), random_state)
        elif isinstance(c, BaseAdapter):
            adapter = clone(c)
            params = adapter.get_params(deep=False)
            if "estimator" in params and params["estimator"] is None:
                adapter.set_params(estimator=clone(estimator))
        else:
            raise TypeError(
                f"candidate {name!r} is a {type(c).__name__}, not a domainadapt strategy "
                "(BaseAdapter) nor a registered name."
            )
        if name in out:
            raise ValueError(f"two candidates are named {name!r}; give them distinct names.")
        out[name] = adapter
    if not out:
        raise ValueError("candidates is empty; give at least one strategy.")
    return out


class _NotApplicable(Exception):
    """A candidate warned that its assumptions do not hold on this data."""


def _fit_and_score(name: str, adapter: BaseAdapter, train_source: Domain, target: Domain,
                   X_val: np.ndarray, y_val: np.ndarray, sd_val: np.ndarray,
                   scorers: Mapping[str, DomainScorer]) -> dict[str, Any]:
    row: dict[str, Any] = {"candidate": name, "family": getattr(adapter, "family", "")}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True):  # other warnings: not shown
            warnings.simplefilter("always")
            # the candidate is dropped anyway once it warns: stop its fit there, before
            # the expensive part (JDA's and JGSA's solves come after their check)
            warnings.simplefilter("error", NotApplicableWarning)
            try:
                adapter.fit(train_source, target)
            except NotApplicableWarning as warning:
                raise _NotApplicable(str(warning)) from None
            row["fit_time"] = time.perf_counter() - start
            for s_name, scorer in scorers.items():
                try:
                    if hasattr(scorer, "score_rows"):
                        value, rows = scorer.score_rows(adapter, X_val, y_val,
                                                        sample_domain=sd_val)
                    else:  # a plain callable scorer
                        value, rows = scorer(adapter, X_val, y_val, sample_domain=sd_val), None
                    row[f"score_{s_name}"] = float(value)
                    row[f"rows_{s_name}"] = rows
                except Exception:  # a scorer that cannot score this candidate: NaN
                    row[f"score_{s_name}"] = float("nan")
        row["error"] = ""
        row["score_time"] = time.perf_counter() - start - row["fit_time"]
    except _NotApplicable as exc:
        row.setdefault("fit_time", time.perf_counter() - start)
        row["score_time"] = 0.0
        row["error"] = f"not applicable: {exc}"
        for s_name in scorers:
            row[f"score_{s_name}"] = float("nan")
    except Exception as exc:
        row.setdefault("fit_time", time.perf_counter() - start)
        row["score_time"] = 0.0
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc()
        for s_name in scorers:
            row[f"score_{s_name}"] = float("nan")
    row["adapter"] = adapter if not row["error"] else None
    return row


def _ensemble_agreement(fitted: Mapping[str, BaseAdapter], X_target: np.ndarray) -> dict:
    """EnsV over the fitted candidates: probabilities when all have them, else labels.

    Candidates that label every target row the same way count once together in the
    ensemble (each weighs 1 / their number): a strategy that does nothing on this data
    (e.g. importance weights that came out flat) would otherwise add a second copy of
    no adaptation and pull the ensemble, hence every candidate's agreement, towards it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            preds = {n: a.predict_proba(X_target) for n, a in fitted.items()}
            if len({p.shape for p in preds.values()}) != 1:
                raise ValueError("candidates disagree on the classes")
        except Exception:
            preds = {n: a.predict(X_target) for n, a in fitted.items()}
    labels = {n: (p.argmax(axis=1) if p.ndim == 2 else p).tobytes() for n, p in
              ((n, np.asarray(p)) for n, p in preds.items())}
    copies = Counter(labels.values())
    return ensemble_agreement_rows(preds, weights={n: 1.0 / copies[labels[n]] for n in preds})
