"""Model-based strategies: reuse and adapt a trained model's parameters.

The deep strategies (PyTorch) share one training engine, :mod:`domainadapt.training`,
through :class:`~domainadapt.training.DeepAdapter` (re-exported here).
"""

from ..registry import register
from .alignment import DAN, DCORAL, JAN
from .baseline import NoAdaptation
from .cdan import CDAN
from .confusion import BNM, MCC
from .dann import DANN
from .deep import DeepAdapter
from .finetuning import FineTuning
from .mcd import MCD
from .mme import MME
from .shot import SHOT
from .source_only import SourceOnly
from .tent import TENT

__all__ = [
    "BNM",
    "CDAN",
    "DAN",
    "DANN",
    "DCORAL",
    "DeepAdapter",
    "FineTuning",
    "JAN",
    "MCC",
    "MCD",
    "MME",
    "NoAdaptation",
    "SHOT",
    "SourceOnly",
    "TENT",
]

register("no_adaptation", "model",
         "Train on the labelled source only (the baseline)")(NoAdaptation)

# The deep strategies: the runner builds each with its defaults (they are off its default
# list); the contract suite shrinks them to a few epochs of a one-hidden-layer MLP on one
# thread (small matrices gain nothing from intra-op threads and lose a lot on a busy CPU).
_DEEP_SMALL = {"hidden_sizes": (16,), "n_epochs": 5, "batch_size": 64, "n_threads": 1}
_DEEP = {"benchmark": False, "stochastic": True, "test_params": _DEEP_SMALL}

register("source_only", "model",
         "Deep baseline: the network trained on labelled rows only", **_DEEP)(SourceOnly)
register("dann", "model",
         "DANN: domain-adversarial features by gradient reversal (Ganin et al. 2016)",
         **_DEEP)(DANN)
register("cdan", "model",
         "CDAN: adversarial alignment conditioned on predictions (Long et al. 2018)",
         **_DEEP)(CDAN)
register("cdan_e", "model",
         "CDAN+E: CDAN with entropy conditioning (Long et al. 2018)",
         params={"entropy": True}, **_DEEP)(CDAN)
register("mcd", "model",
         "MCD: maximum classifier discrepancy (Saito et al. 2018)", **_DEEP)(MCD)
register("mcc", "model",
         "MCC: minimum class confusion of the target predictions (Jin et al. 2020)",
         **_DEEP)(MCC)
register("bnm", "model",
         "BNM: batch nuclear-norm maximisation of the target predictions (Cui et al. 2020)",
         **_DEEP)(BNM)
register("mme", "model",
         "MME: minimax entropy with a few labelled target rows (Saito et al. 2019)",
         **_DEEP)(MME)
register("dan", "model",
         "DAN: multi-layer multi-kernel MMD (Long et al. 2015)", **_DEEP)(DAN)
register("jan", "model",
         "JAN: joint MMD of features and predictions (Long et al. 2017)", **_DEEP)(JAN)
register("dcoral", "model",
         "Deep CORAL: covariance alignment of the last layer (Sun & Saenko 2016)",
         **_DEEP)(DCORAL)
register("finetuning", "model",
         "Fine-tuning on labelled target rows with L2-SP (Li et al. 2018)",
         params={"pretrain_on_source": True}, contract=False, **_DEEP)(FineTuning)
# Source-free / test-time: a source stage (n_epochs) then an adaptation stage (adapt_epochs)
register("shot", "model",
         "SHOT: source-free adaptation by information maximisation (Liang et al. 2020)",
         benchmark=False, stochastic=True,
         test_params={**_DEEP_SMALL, "adapt_epochs": 2})(SHOT)
register("tent", "model",
         "TENT: test-time entropy minimisation of the norm layers (Wang et al. 2021)",
         benchmark=False, stochastic=True,
         # a batch-norm network needs more than 5 epochs of the contract's 2 batches to
         # learn the blobs (5: 0.30-0.51 cross-validated; 20: 0.54-0.64)
         test_params={**_DEEP_SMALL, "n_epochs": 20, "adapt_epochs": 1})(TENT)
