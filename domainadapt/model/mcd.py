"""Maximum classifier discrepancy (MCD)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import Interval
from ..training import DeepAdapter
from ..training.data import Batch
from ..training.networks import MLP

__all__ = ["MCD", "classifier_discrepancy"]


def classifier_discrepancy(logits1: Tensor, logits2: Tensor) -> Tensor:
    r""":math:`\frac{1}{mK}\sum_j \sum_k |p_1(k|x_j) - p_2(k|x_j)|`, the L1 distance of two softmax outputs."""
    return (F.softmax(logits1.float(), 1) - F.softmax(logits2.float(), 1)).abs().mean()


class MCD(DeepAdapter):
    r"""Maximum classifier discrepancy: two classifiers find target rows off the source
    support, the feature generator moves them back.

    Three steps per batch (Saito et al. 2018):

    A. :math:`\min_{G, C_1, C_2} \mathcal L_{cls}(C_1\circ G) + \mathcal L_{cls}(C_2\circ G)` on the source;
    B. :math:`\min_{C_1, C_2} \mathcal L_{cls} - \mathcal L_{adv}` with :math:`G` fixed;
    C. :math:`\min_G \mathcal L_{adv}`, repeated ``n_generator_steps`` times,

    with :math:`\mathcal L_{adv} = \mathbb E_{x^t} \frac1K\|p_1(\cdot|x^t) - p_2(\cdot|x^t)\|_1`.
    Predictions average the two classifiers' probabilities.

    Parameters
    ----------
    n_generator_steps : int, default=4
        Repetitions of step C (the paper uses 4 on digits).
    classifier_hidden_sizes : sequence of int, default=()
        Hidden layers of each classifier (empty: linear heads).
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``, ``"classifier2"``.
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
    domainadapt.model.DANN : Domain-adversarial training through gradient reversal.
    domainadapt.model.CDAN : Adversarial training conditioned on the predictions.
    domainadapt.model.SourceOnly : The same network without an adaptation term.

    References
    ----------
    K. Saito, K. Watanabe, Y. Ushiku, T. Harada. "Maximum Classifier Discrepancy
    for Unsupervised Domain Adaptation". CVPR 2018.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import MCD
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = MCD(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "n_generator_steps": [Interval(Integral, 1, None, closed="left")],
        "classifier_hidden_sizes": ["array-like"],
    }

    def __init__(
        self, n_generator_steps: int = 4, classifier_hidden_sizes: Sequence[int] = (), **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.n_generator_steps = n_generator_steps
        self.classifier_hidden_sizes = classifier_hidden_sizes

    def _head(self, dim: int, n_classes: int) -> nn.Module:
        if not self.classifier_hidden_sizes:
            return nn.Linear(dim, n_classes)
        body = MLP(dim, self.classifier_hidden_sizes)
        return nn.Sequential(body, nn.Linear(body.out_features, n_classes))

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        features, dim = self._build_features(input_shape)
        return {
            "features": features,
            "classifier": self._head(dim, n_classes),
            "classifier2": self._head(dim, n_classes),
        }

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        heads = list(parts["classifier"].parameters()) + list(parts["classifier2"].parameters())
        return {
            "features": [{"params": list(parts["features"].parameters())}],
            "classifiers": [{"params": heads}],
        }

    def _predict_logits(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        f = parts["features"](x)
        p = 0.5 * (
            F.softmax(parts["classifier"](f).float(), 1)
            + F.softmax(parts["classifier2"](f).float(), 1)
        )
        return torch.log(p.clamp_min(1e-12))

    def _supervised(
        self, parts: nn.ModuleDict, fs: Tensor, ft: Tensor | None, batch: Batch
    ) -> Tensor:
        total = 0.0
        for head in ("classifier", "classifier2"):
            lt = parts[head](ft) if ft is not None else None
            total = total + self.classification_loss(parts[head](fs), batch, lt)
        return total

    def _training_step(self, parts: nn.ModuleDict, batch: Batch, state: Any) -> dict[str, Any]:
        labelled = batch.target_labelled is not None
        # A: source (and labelled target) classification, everything updated
        fs = parts["features"](batch.source_x)
        ft = parts["features"](batch.target_x) if labelled else None
        loss_a = self._supervised(parts, fs, ft, batch)
        state.optimize(loss_a, ("features", "classifiers"))
        # B: classifiers maximise their disagreement on the target, generator fixed
        with torch.no_grad():
            fs = parts["features"](batch.source_x)
            ft = parts["features"](batch.target_x)
        disc_b = classifier_discrepancy(parts["classifier"](ft), parts["classifier2"](ft))
        loss_b = self._supervised(parts, fs, ft if labelled else None, batch) - disc_b
        state.optimize(loss_b, "classifiers")
        # C: the generator minimises it
        for _ in range(self.n_generator_steps):
            ft = parts["features"](batch.target_x)
            disc_c = classifier_discrepancy(parts["classifier"](ft), parts["classifier2"](ft))
            state.optimize(disc_c, "features")
        return {
            "loss": loss_a.detach(),
            "discrepancy": disc_b.detach(),
            "generator_discrepancy": disc_c.detach(),
        }
