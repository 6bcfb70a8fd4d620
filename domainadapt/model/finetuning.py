"""Fine-tuning a (pre)trained network on the labelled target rows, with L2-SP."""

from __future__ import annotations

import copy
import fnmatch
import os
import warnings
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._domain import Domain
from .._utils import Interval
from ..training import DeepAdapter
from ..training.data import ArrayData, Batch
from .source_only import SourceOnly

__all__ = ["FineTuning"]


def _patterns(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a pattern or a sequence of patterns; got {value!r}."
        ) from None
    if not all(isinstance(p, str) for p in out):
        raise TypeError(f"{name} must hold fnmatch patterns (strings); got {value!r}.")
    return out


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _check_patterns_match(name: str, patterns: Sequence[str], names: Sequence[str]) -> None:
    """``ValueError`` naming ``name`` when a pattern matches no parameter (a typo is silent)."""
    for pat in patterns:
        if not any(fnmatch.fnmatchcase(n, pat) for n in names):
            raise ValueError(
                f"{name} pattern {pat!r} matches no parameter of the model; parameter names "
                f"look like {names[:4]} (fnmatch patterns, e.g. 'features.*')."
            )


class _Reference(nn.Module):
    """The starting weights of L2-SP (buffers) and which tensors were pretrained."""

    def __init__(self, named: dict[str, Tensor]):
        super().__init__()
        self.names = list(named)
        for i, (_, t) in enumerate(named.items()):
            self.register_buffer(f"w{i}", torch.zeros_like(t))
            self.register_buffer(f"shared{i}", torch.zeros(()))

    def set(self, name: str, value: Tensor) -> None:
        i = self.names.index(name)
        getattr(self, f"w{i}").copy_(value.detach())
        getattr(self, f"shared{i}").fill_(1.0)

    def items(self):  # (name, start weight, shared flag)
        for i, n in enumerate(self.names):
            yield n, getattr(self, f"w{i}"), getattr(self, f"shared{i}")


class FineTuning(DeepAdapter):
    r"""Fine-tune a starting model on the labelled target rows, regularised toward it (L2-SP).

    .. math:: \min_w\; \frac{1}{|L|}\sum_{j\in L} \ell(x^t_j, y^t_j)
              + \frac{\alpha}{2}\|w_S - w_S^0\|_2^2 + \frac{\beta}{2}\|w_{\bar S}\|_2^2

    where :math:`w_S` are the weights that come from the starting point (the
    pretrained network, or the source model with ``pretrain_on_source=True``),
    :math:`w^0_S` their starting values and :math:`w_{\bar S}` the new ones (a new
    classification head). Layers can be frozen, get their own learning rate, and be
    unfrozen gradually.

    Parameters
    ----------
    pretrained : nn.Module, str or path, optional
        The starting point: a feature extractor (``nn.Module``, copied: it replaces
        ``network``), or a file holding a state dict of the parts (keys
        ``"features.*"`` and optionally ``"classifier.*"``, e.g.
        ``torch.save(adapter.parts_.state_dict(), path)``) or a
        :meth:`DeepAdapter.save` file; files are read with ``weights_only=True``,
        and tensors whose shape differs (a head for other classes) stay new.
    pretrain_on_source : bool, default=False
        First train on the labelled source (a :class:`SourceOnly` run with the same
        settings and ``pretrain_epochs``), then fine-tune that model on the target.
    pretrain_epochs : int, optional
        Epochs of the source stage (default: ``n_epochs``).
    freeze : str or sequence of str, optional
        fnmatch patterns of parameter names kept fixed, e.g. ``"features.*"``
        (names as in ``parts_.named_parameters()``: ``"features.layers.1.weight"``,
        ``"classifier.bias"``).
    lr_groups : dict of pattern -> float, optional
        Learning rate of the parameters matching each pattern (first match wins;
        others use ``lr``), e.g. ``{"features.*": 1e-4}``.
    unfreeze_schedule : dict of int -> patterns, optional
        At the start of epoch ``k`` (0-based), unfreeze the frozen parameters matching
        the patterns (gradual unfreezing, Howard & Ruder 2018).
    l2sp_alpha : float, default=0.01
        :math:`\alpha`, pull of the shared weights toward their start.
    l2sp_beta : float, default=0.01
        :math:`\beta`, weight decay of the new weights.
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``, ``"reference"`` (the starting weights the L2-SP term pulls toward).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    history_ : list of dict
        One record per epoch; these and the other fitted attributes
        (``n_iter_``, ``n_epochs_``, ``dropout_``, ...) as in
        :class:`~domainadapt.training.DeepAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.SourceOnly : The same network without an adaptation term.
    domainadapt.model.DANN : Domain-adversarial training through gradient reversal.
    domainadapt.instance.TrAdaBoost : Boosting with a few labelled target rows.

    Notes
    -----
    Without ``pretrained`` and without ``pretrain_on_source`` the network starts
    from its random initialisation (then :math:`\alpha` has nothing to pull toward
    and every weight is "new"). Training needs labelled target rows, except after
    source pretraining (then the source model is returned, with a warning).

    References
    ----------
    X. Li, Y. Grandvalet, F. Davoine. "Explicit Inductive Bias for Transfer Learning
    with Convolutional Networks". ICML 2018 (L2-SP).
    J. Howard, S. Ruder. "Universal Language Model Fine-tuning for Text
    Classification". ACL 2018 (gradual unfreezing).

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import FineTuning
    >>> source, target = make_rotated_moons(random_state=0)
    >>> y_target = np.full(len(target.y), -1)  # -1: unlabelled
    >>> y_target[:20] = target.y[:20]  # a few labelled target rows
    >>> model = FineTuning(pretrain_on_source=True, hidden_sizes=(16,), n_epochs=5,
    ...                    random_state=0)
    >>> model = model.fit(source, (target.X, y_target))
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "pretrained": [nn.Module, str, os.PathLike, None],
        "pretrain_on_source": ["boolean"],
        "pretrain_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "freeze": [str, "array-like", None],
        "lr_groups": [Mapping, None],
        "unfreeze_schedule": [Mapping, None],
        "l2sp_alpha": [Interval(Real, 0, None, closed="left")],
        "l2sp_beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        pretrained: nn.Module | str | Path | None = None,
        pretrain_on_source: bool = False,
        pretrain_epochs: int | None = None,
        freeze: str | Sequence[str] | None = None,
        lr_groups: Mapping[str, float] | None = None,
        unfreeze_schedule: Mapping[int, str | Sequence[str]] | None = None,
        l2sp_alpha: float = 0.01,
        l2sp_beta: float = 0.01,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pretrained = pretrained
        self.pretrain_on_source = pretrain_on_source
        self.pretrain_epochs = pretrain_epochs
        self.freeze = freeze
        self.lr_groups = lr_groups
        self.unfreeze_schedule = unfreeze_schedule
        self.l2sp_alpha = l2sp_alpha
        self.l2sp_beta = l2sp_beta

    # ------------------------------------------------------------------ parts
    def _start_state(self, n_classes: int) -> dict[str, Tensor]:
        """State dict (part-prefixed keys) of the starting point, or {}: the source
        stage (``source_model_``) with ``pretrain_on_source``, else ``pretrained``."""
        stage = getattr(self, "source_model_", None) if self.pretrain_on_source else None
        if stage is not None:
            state = {k: v.detach().cpu().clone() for k, v in stage.parts_.state_dict().items()}
            if len(stage.classes_) != n_classes:  # the head cannot be reused
                state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
            return state
        p = self.pretrained
        if p is None or isinstance(p, nn.Module):
            return {}
        if not Path(p).is_file():
            raise ValueError(f"pretrained file {p} does not exist.")
        state = torch.load(p, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "parts" in state and "format" in state:
            state = {f"{k}.{n}": t for k, sd in state["parts"].items() for n, t in sd.items()}
        if not isinstance(state, Mapping) or not all(isinstance(t, Tensor) for t in state.values()):
            raise ValueError(
                f"pretrained file {p} must hold a state dict (name -> tensor) of the parts."
            )
        return dict(state)

    def _resolve_architecture(self, source: Any, target: Any, input_shape: tuple[int, ...]) -> None:
        super()._resolve_architecture(source, target, input_shape)
        stage = getattr(self, "source_model_", None) if self.pretrain_on_source else None
        if self.network is None and self.dropout == "auto" and stage is not None:
            # the fine-tuning stage starts from the source-trained default MLP: keep its
            # architecture (dropout resolved on the source rows), so every tensor carries over
            self.dropout_ = float(stage.dropout_)

    def _network(self) -> Any:
        """A ``pretrained`` module replaces ``network``."""
        if isinstance(self.pretrained, nn.Module):
            return self.pretrained
        return super()._network()

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        parts = nn.ModuleDict(super()._build_parts(input_shape, n_classes))
        out = dict(parts.items())
        out["reference"] = _Reference(dict(parts.named_parameters()))
        return out

    def _copy_start(self, parts: nn.ModuleDict, start: dict[str, Tensor]) -> None:
        """Copy the starting tensors into ``parts`` and mark them shared for L2-SP
        (a tensor whose shape differs, e.g. a head for other classes, stays new)."""
        named = dict(parts.named_parameters())
        shared = set()
        if isinstance(self.pretrained, nn.Module) and not start:
            shared = {n for n in named if n.startswith("features.")}
        with torch.no_grad():
            for n, t in start.items():
                if n in named and named[n].shape == t.shape:
                    named[n].copy_(t)
                    shared.add(n)
            own = parts.state_dict()
            for n, t in start.items():  # buffers (e.g. batch-norm statistics)
                if (n not in named and n in own and not n.startswith("reference.")
                        and own[n].shape == t.shape):
                    own[n].copy_(t)
        if start and not shared:
            raise ValueError(
                "pretrained holds no tensor matching the model (names such as "
                f"{sorted(named)[:3]} were expected)."
            )
        for n in shared:
            parts["reference"].set(n, named[n])

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        lr_groups = dict(self.lr_groups or {})
        for pat, lr in lr_groups.items():
            if (
                not isinstance(pat, str)
                or isinstance(lr, bool)
                or not isinstance(lr, (int, float))
                or not lr > 0
            ):
                raise ValueError(
                    f"lr_groups must map fnmatch patterns to positive floats; got {pat!r}: {lr!r}."
                )
        names = [n for n, _ in parts.named_parameters() if not n.startswith("reference.")]
        _check_patterns_match("lr_groups", list(lr_groups), names)
        groups: dict[Any, list[Tensor]] = {}
        for n, p in parts.named_parameters():
            if n.startswith("reference."):
                continue
            lr = next((v for pat, v in lr_groups.items() if fnmatch.fnmatchcase(n, pat)), None)
            groups.setdefault(lr, []).append(p)
        out = []
        for lr, params in groups.items():
            g: dict[str, Any] = {"params": params}
            if lr is not None:
                g["lr"] = float(lr)
            out.append(g)
        return {"main": out}

    def _apply_freezing(self, parts: nn.ModuleDict, epoch: int) -> None:
        frozen = _patterns("freeze", self.freeze)
        unfrozen: list[str] = []
        for k, pats in sorted((self.unfreeze_schedule or {}).items()):
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
                raise ValueError(f"unfreeze_schedule keys must be epochs (ints >= 0); got {k!r}.")
            if epoch >= k:
                unfrozen += _patterns("unfreeze_schedule", pats)
        if epoch == 0:  # every pattern must name something
            names = [n for n, _ in parts.named_parameters() if not n.startswith("reference.")]
            _check_patterns_match("freeze", frozen, names)
            for pats in (self.unfreeze_schedule or {}).values():
                _check_patterns_match("unfreeze_schedule", _patterns("unfreeze_schedule", pats),
                                      names)
        for n, p in parts.named_parameters():
            p.requires_grad_(not (_matches(n, frozen) and not _matches(n, unfrozen)))

    def _make_parts(
        self, input_shape: tuple[int, ...], n_classes: int, *, start_weights: bool = True
    ) -> nn.ModuleDict:
        parts = super()._make_parts(input_shape, n_classes, start_weights=start_weights)
        if start_weights:
            self._copy_start(parts, self._start_state(n_classes))
        self._apply_freezing(parts, 0)
        return parts

    def _predict_logits(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        return parts["classifier"](parts["features"](x))

    # ------------------------------------------------------------------ training
    def _l2sp(self, parts: nn.ModuleDict) -> Tensor:
        # The shared flags are 0/1 device buffers (saved with the model): branching on
        # one would make the host wait for the device at every step, so each tensor
        # enters both sums, weighted by its flag.
        named = dict(parts.named_parameters())
        total_s = total_n = next(iter(named.values())).new_zeros(())
        for n, w0, flag in parts["reference"].items():
            w = named[n]
            if not w.requires_grad:
                continue
            total_s = total_s + flag * ((w - w0) ** 2).sum()
            total_n = total_n + (1.0 - flag) * (w**2).sum()
        return 0.5 * self.l2sp_alpha * total_s + 0.5 * self.l2sp_beta * total_n

    def _on_epoch_start(self, parts: nn.ModuleDict, state: Any) -> None:
        self._apply_freezing(parts, state.epoch)

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        # the engine's "source" rows are the labelled target rows here
        cls = self.classification_loss(
            parts["classifier"](parts["features"](batch.source_x)), batch
        )
        reg = self._l2sp(parts)
        return cls + reg, {"classification": cls.detach(), "l2sp": reg.detach()}

    def _fit(self, source: Domain, target: Domain) -> None:
        labelled = target.labelled if target.y is not None else np.zeros(len(target.X), bool)
        if not labelled.any() and not self.pretrain_on_source:
            raise ValueError(
                "FineTuning needs labelled target rows (target y with labels, -1 for the "
                "unlabelled ones) or pretrain_on_source=True."
            )
        if self.pretrain_on_source:
            base_params = {
                k: v
                for k, v in self.get_params(deep=False).items()
                if k in DeepAdapter._get_param_names()
            }
            base_params.update(checkpoint_dir=None, resume=False, callbacks=None, estimator=None)
            if self.pretrain_epochs is not None:
                base_params["n_epochs"] = self.pretrain_epochs
            if isinstance(self.pretrained, nn.Module):
                base_params["network"] = self.pretrained
            stage = SourceOnly(**base_params)
            stage.fit((source.X, source.y, source.sample_weight), Domain(target.X))
            # the fine-tuning stage starts from it (_start_state)
            self.source_model_ = stage
            if not labelled.any():
                warnings.warn(
                    "FineTuning: no labelled target row; the source-pretrained model is used "
                    "as is.",
                    UserWarning,
                    stacklevel=3,
                )
                self.classes_ = stage.classes_
                self.parts_ = copy.deepcopy(stage.parts_)
                self.n_classes_ = stage.n_classes_
                self.input_shape_ = stage.input_shape_
                self.history_ = []
                self.n_iter_ = 0
                self.n_epochs_ = 0
                self.callbacks_ = []
                return
        elif hasattr(self, "source_model_"):  # from an earlier fit with pretrain_on_source
            del self.source_model_
        target_classes = np.unique(target.y[labelled])
        if self.estimator is not None and len(target_classes) < 2:
            # the estimator is fitted on the labelled target rows alone
            raise ValueError(
                "target y: the labelled target rows hold a single class "
                f"({target_classes[0].item()!r}), but FineTuning fits estimator "
                f"{type(self.estimator).__name__} on them alone, and a classifier needs two. "
                "Label target rows of at least two classes, or leave estimator=None to "
                "predict with the fine-tuned network."
            )
        classes = np.unique(np.concatenate([source.y, target.y[labelled]]))
        self.classes_ = classes
        y_t = np.searchsorted(classes, target.y[labelled])
        self._train(
            ArrayData(target.X[labelled], y_t),
            ArrayData(target.X),
            len(classes),
            target.X.shape[1:],
        )
