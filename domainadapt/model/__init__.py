"""Model-based strategies: reuse and adapt a trained model's parameters.

The deep strategies (PyTorch) share one training engine, :mod:`domainadapt.training`,
through :class:`~domainadapt.model.deep.DeepAdapter`.
"""

from ..registry import register_adapter
from .alignment import DAN, DCORAL, JAN
from .baseline import NoAdaptation
from .cdan import CDAN
from .dann import DANN
from .deep import DeepAdapter
from .finetuning import FineTuning
from .mcd import MCD
from .source_only import SourceOnly

__all__ = [
    "CDAN",
    "DAN",
    "DANN",
    "DCORAL",
    "DeepAdapter",
    "FineTuning",
    "JAN",
    "MCD",
    "NoAdaptation",
    "SourceOnly",
]

register_adapter(
    "no_adaptation",
    "model",
    lambda estimator, random_state: NoAdaptation(estimator=estimator),
    description="Train on the labelled source only (the baseline)",
)

#: Small settings of the deep strategies in the registry (contract suite and the
#: benchmark runner): a one-hidden-layer MLP, one thread (small matrices gain nothing
#: from intra-op threads and lose a lot on a busy CPU).
# The factories build each deep method with its defaults (what the benchmark runner uses);
# the contract suite shrinks them to a few epochs of a one-layer MLP through test_params.
_DEEP_SMALL = {"hidden_sizes": (16,), "n_epochs": 5, "batch_size": 64, "n_threads": 1}


def _deep(cls, **extra):
    return lambda estimator, random_state: cls(
        estimator=estimator, random_state=random_state, progress=False, **extra
    )


register_adapter(
    "source_only",
    "model",
    _deep(SourceOnly),
    description="Deep baseline: the network trained on labelled rows only",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "dann",
    "model",
    _deep(DANN),
    description="DANN: domain-adversarial features by gradient reversal (Ganin et al. 2016)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "cdan",
    "model",
    _deep(CDAN),
    description="CDAN: adversarial alignment conditioned on predictions (Long et al. 2018)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "cdan_e",
    "model",
    _deep(CDAN, entropy=True),
    description="CDAN+E: CDAN with entropy conditioning (Long et al. 2018)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "mcd",
    "model",
    _deep(MCD),
    description="MCD: maximum classifier discrepancy (Saito et al. 2018)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "dan",
    "model",
    _deep(DAN),
    description="DAN: multi-layer multi-kernel MMD (Long et al. 2015)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "jan",
    "model",
    _deep(JAN),
    description="JAN: joint MMD of features and predictions (Long et al. 2017)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "dcoral",
    "model",
    _deep(DCORAL),
    description="Deep CORAL: covariance alignment of the last layer (Sun & Saenko 2016)",
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
register_adapter(
    "finetuning",
    "model",
    _deep(FineTuning, pretrain_on_source=True),
    description="Fine-tuning on labelled target rows with L2-SP (Li et al. 2018)",
    contract=False,
    benchmark=False,
    stochastic=True,
    test_params=_DEEP_SMALL,
)
