"""Pipelines that carry ``sample_domain`` to every domain-adaptation step."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.metadata_routing import MetadataRequest

from ._domain import SOURCE, TARGET, Domain
from ._sparse import n_rows
from .base import InstanceAdapter, _fit_with_weights, is_adapter, score_target_rows
from .validation import (
    check_feature_names,
    check_features,
    check_sample_domain,
    check_source_target,
    fit_feature_names,
    stack_domains,
)

__all__ = ["DAPipeline", "make_da_pipeline"]


class DAPipeline(Pipeline):
    """A scikit-learn :class:`~sklearn.pipeline.Pipeline` aware of source and target rows.

    Fitted on stacked rows with ``fit(X, y, sample_domain=...)`` or on
    ``fit(source, target)``:

    * domain-adaptation steps (:class:`~domainadapt.base.BaseAdapter`) get every
      row with its ``sample_domain``; a feature adapter's output is each row
      adapted as its own domain; an instance adapter passes rows through and
      hands its ``weights_`` to the final estimator as ``sample_weight``;
    * ordinary scikit-learn steps are fitted on the labelled rows only (source
      and ``"target_labelled"``), exactly what they would see without target
      data, and then transform every row;
    * ``predict``/``score`` take rows as target rows unless ``sample_domain`` says
      otherwise; ``score`` with ``sample_domain`` scores the target rows only.

    It changes no global scikit-learn setting. ``clone``, ``get_params``,
    ``set_params`` with ``step__param`` names, ``GridSearchCV`` and
    ``cross_val_score`` (passing ``params={"sample_domain": sd}``) work as for a
    plain pipeline; with metadata routing enabled, ``sample_domain`` is
    requested by default.

    Like a scikit-learn estimator, it records the string column names of a
    DataFrame passed to ``fit`` in ``feature_names_in_`` (source and target must
    agree), refuses rows with other names or order at ``predict``/``transform``/
    ``score`` and warns when names appear or disappear. SciPy sparse rows are
    passed to the steps as CSR; each step keeps them sparse or densifies them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.feature import CORAL
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(100, 2), 2.0 * rng.randn(100, 2) + 1.0
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> pipe = DAPipeline([("coral", CORAL()), ("clf", LogisticRegression())])
    >>> pipe = pipe.fit((X_s, y_s), X_t)
    >>> pipe.predict(X_t[:5]).shape
    (5,)

    The stacked form fits the same model:

    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(100, -1)])  # target labels are not read
    >>> sd = np.array(["source"] * 100 + ["target"] * 100)
    >>> stacked = DAPipeline([("coral", CORAL()), ("clf", LogisticRegression())])
    >>> stacked = stacked.fit(X, y, sample_domain=sd)
    >>> bool((stacked.predict(X_t) == pipe.predict(X_t)).all())
    True
    """

    #: predict/score take ``sample_domain=`` (see ``base.accepts_sample_domain``).
    _accepts_sample_domain = True


    @property
    def feature_names_in_(self) -> np.ndarray:
        """String column names of the DataFrame(s) ``fit`` got (absent after arrays)."""
        names = self.__dict__.get("_fitted_feature_names")
        if names is None:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute 'feature_names_in_'"
            )
        return names

    def _check_input(self, X: Any) -> Any:
        """Validate rows after ``fit``: their feature names, then their values."""
        check_feature_names(
            X, self.__dict__.get("_fitted_feature_names"), owner=type(self).__name__
        )
        return check_features(X, "X", accept_sparse=True, owner=type(self).__name__)

    # ---------------------------------------------------------------- steps
    def _check_steps(self) -> None:
        """Check ``steps`` as :class:`~sklearn.pipeline.Pipeline` does before a fit.

        Raises
        ------
        ValueError
            No steps; step names repeated, clashing with a parameter or holding ``__``.
        TypeError
            A step is a class, not an instance; an intermediate step has no ``fit`` or
            no ``transform``; the final step has no ``fit``.
        """
        if not self.steps:
            raise ValueError("The pipeline is empty. Please add steps.")
        names = [name for name, _ in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"Names provided are not unique: {names!r}")
        clashing = sorted(set(names) & set(self.get_params(deep=False)))
        if clashing:
            raise ValueError(f"Estimator names conflict with constructor arguments: {clashing!r}")
        with_dunder = [name for name in names if "__" in name]
        if with_dunder:
            raise ValueError(f"Estimator names must not contain __: got {with_dunder!r}")
        for name, step in self.steps:
            if isinstance(step, type):
                raise TypeError(f"step {name!r} is a class ({step.__name__}), not an instance.")
        for name, step in self._intermediate_steps():
            if not hasattr(step, "fit") or not hasattr(step, "transform"):
                raise TypeError(
                    f"All intermediate steps should implement fit and transform or be "
                    f"'passthrough'; step {name!r} ({type(step).__name__}) doesn't."
                )
        final = self._final_step()
        if not _is_passthrough(final) and not hasattr(final, "fit"):
            raise TypeError(
                f"The last step should implement fit or be 'passthrough'; "
                f"{type(final).__name__} doesn't."
            )

    def _intermediate_steps(self) -> list[tuple[str, Any]]:
        """``(name, step)`` of every step but the last, ``"passthrough"``/None left out."""
        return [(name, step) for name, step in self.steps[:-1] if not _is_passthrough(step)]

    def _final_step(self) -> Any:
        """The last step (an estimator, ``"passthrough"`` or None)."""
        return self.steps[-1][1]

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, sample_domain: Any = None, **params: Any) -> DAPipeline:
        """Fit every step; see the class docstring for what each step sees."""
        if params:
            raise TypeError(
                f"DAPipeline.fit got unexpected parameters {sorted(params)}; only "
                "sample_domain is routed."
            )
        names = fit_feature_names(X, y, sample_domain)
        X, y, sd = self._to_stacked(X, y, sample_domain)
        self._fitted_feature_names = names
        labelled = sd != TARGET
        Xt = X
        weights: np.ndarray | None = None
        self._check_steps()
        for name, step in self._intermediate_steps():
            if isinstance(step, InstanceAdapter):
                step.fit(Xt, y, sample_domain=sd)
                weights = step.weights_
            elif is_adapter(step):
                Xt = step.fit_transform(Xt, y, sample_domain=sd)
            else:
                if not hasattr(step, "transform"):
                    raise TypeError(f"step {name!r} ({type(step).__name__}) has no transform.")
                step.fit(Xt[labelled], y[labelled])
                Xt = step.transform(Xt)
        final = self._final_step()
        if not _is_passthrough(final):
            if is_adapter(final):
                if weights is not None:
                    raise ValueError(
                        "an instance adapter's weights cannot feed a final domain-adaptation "
                        "step; end the pipeline with an ordinary estimator."
                    )
                final.fit(Xt, y, sample_domain=sd)
            else:
                w = None
                if weights is not None:
                    w = np.ones(n_rows(Xt))
                    w[sd == SOURCE] = weights
                    w = w[labelled]
                _fit_with_weights(final, Xt[labelled], y[labelled], w)
        return self

    def _to_stacked(self, X: Any, y: Any, sample_domain: Any):
        if sample_domain is None:
            if isinstance(X, (Domain, tuple)) and y is not None:
                src, tgt = check_source_target(X, y, accept_sparse=True)
                return stack_domains(src, tgt)
            raise ValueError(
                "DAPipeline.fit needs sample_domain= (one of 'source', 'target', "
                "'target_labelled' per row), or the fit(source, target) form."
            )
        X = check_features(X, "X", accept_sparse=True)
        n = n_rows(X)
        sd = check_sample_domain(sample_domain, n)
        if y is None:
            raise ValueError("y is None: the source rows must be labelled.")
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} entries but X has {n} rows.")
        if not (sd == SOURCE).any() or (sd == SOURCE).all():
            raise ValueError("sample_domain must mark both source and target rows.")
        return X, y, sd

    # ------------------------------------------------------------ inference
    def _transform_rows(self, X: Any, sample_domain: Any) -> np.ndarray:
        Xt = self._check_input(X)
        for _, step in self._intermediate_steps():
            if isinstance(step, InstanceAdapter):
                continue
            if is_adapter(step):
                Xt = step.transform(Xt, sample_domain=sample_domain)
            else:
                Xt = step.transform(Xt)
        return Xt

    def _final_call(self, method: str, X: Any, sample_domain: Any):
        Xt = self._transform_rows(X, sample_domain)
        final = self._final_step()
        if is_adapter(final):
            return getattr(final, method)(Xt, sample_domain=sample_domain)
        return getattr(final, method)(Xt)

    def predict(self, X: Any, sample_domain: Any = None, **params: Any) -> np.ndarray:
        """Predict; rows are target rows unless ``sample_domain`` says otherwise."""
        return self._final_call("predict", X, sample_domain)

    def predict_proba(self, X: Any, sample_domain: Any = None, **params: Any) -> np.ndarray:
        """Class probabilities; rows are target rows unless ``sample_domain`` says otherwise."""
        return self._final_call("predict_proba", X, sample_domain)

    def decision_function(self, X: Any, sample_domain: Any = None, **params: Any) -> np.ndarray:
        """Decision function of the final estimator on the adapted rows."""
        return self._final_call("decision_function", X, sample_domain)

    def transform(self, X: Any, sample_domain: Any = None, **params: Any) -> np.ndarray:
        """Adapted representation of ``X`` (all steps but a final estimator)."""
        Xt = self._transform_rows(X, sample_domain)
        final = self._final_step()
        if _is_passthrough(final):
            return Xt
        if is_adapter(final):
            return final.transform(Xt, sample_domain=sample_domain)
        return final.transform(Xt)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, sample_domain: Any = None,
              **params: Any) -> float:
        """Accuracy (or R²) on target rows; with ``sample_domain``, only target rows are scored."""
        return score_target_rows(self, self._check_input(X), y, sample_weight, sample_domain)

    # -------------------------------------------------------------- routing
    def get_metadata_routing(self) -> MetadataRequest:
        """Request ``sample_domain`` for fit, predict, transform and score."""
        request = MetadataRequest(owner=self.__class__.__name__)
        for method in ("fit", "predict", "predict_proba", "decision_function", "transform",
                       "score"):
            getattr(request, method).add_request(param="sample_domain", alias=True)
        return request


def _is_passthrough(step: Any) -> bool:
    """Whether a pipeline step is the identity (``None`` or ``"passthrough"``)."""
    return step is None or (isinstance(step, str) and step == "passthrough")


def make_da_pipeline(*steps: Any, memory: Any = None, verbose: bool = False) -> DAPipeline:
    """Build a :class:`DAPipeline` from estimators, naming the steps automatically.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from domainadapt import make_da_pipeline
    >>> from domainadapt.feature import CORAL
    >>> pipe = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    >>> [name for name, _ in pipe.steps]
    ['standardscaler', 'coral', 'logisticregression']
    """
    if memory is not None:
        raise ValueError("DAPipeline does not cache steps; memory must be None.")
    base = make_pipeline(*steps, verbose=verbose)
    return DAPipeline(base.steps, verbose=verbose)
