"""The deep baseline: the network trained on the labelled rows only."""

from __future__ import annotations

from typing import Any

from ..training import DeepAdapter

__all__ = ["SourceOnly"]


class SourceOnly(DeepAdapter):
    r"""Train the network on the labelled source (and labelled target) rows only.

    .. math:: \min_{\theta} \frac1{n_s}\sum_i w_i\,\ell\big(C(F(x^s_i)), y^s_i\big)

    The baseline of every deep table: the same network, optimiser and budget as
    the adaptation methods, without any alignment term. The unlabelled target rows
    are only used by callbacks (e.g. early stopping on target entropy).

    Its loss is :class:`~domainadapt.training.DeepAdapter`'s own (the supervised
    loss, no alignment term); this class names the baseline in the model family.

    Parameters
    ----------
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``.
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
    domainadapt.model.NoAdaptation : Train on the labelled rows only (the scikit-learn baseline).
    domainadapt.model.DANN : Domain-adversarial training through gradient reversal.
    domainadapt.model.FineTuning : Fine-tuning on labelled target rows (L2-SP).

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import SourceOnly
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = SourceOnly(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
