"""Instance-based strategies: importance weights for the source rows."""

from ..registry import register_adapter
from .classifier_ratio import ClassifierDensityRatio
from .kliep import KLIEP
from .kmm import KMM
from .lsif import ULSIF, RuLSIF
from .nearest_neighbors import NearestNeighborWeighting
from .tradaboost import TrAdaBoost

__all__ = [
    "KLIEP",
    "KMM",
    "ULSIF",
    "ClassifierDensityRatio",
    "NearestNeighborWeighting",
    "RuLSIF",
    "TrAdaBoost",
]

register_adapter(
    "classifier_ratio",
    "instance",
    lambda estimator, random_state: ClassifierDensityRatio(
        estimator=estimator, random_state=random_state
    ),
    description="Importance weights from a domain classifier (Bickel et al. 2009)",
)
register_adapter(
    "kmm",
    "instance",
    lambda estimator, random_state: KMM(estimator=estimator, random_state=random_state),
    description="Kernel mean matching, exact QP or tiled FISTA (Huang et al. 2007)",
)
register_adapter(
    "kliep",
    "instance",
    lambda estimator, random_state: KLIEP(estimator=estimator, random_state=random_state),
    description="KL importance estimation with likelihood CV (Sugiyama et al. 2008)",
    stochastic=True,
)
register_adapter(
    "ulsif",
    "instance",
    lambda estimator, random_state: ULSIF(estimator=estimator, random_state=random_state),
    description="Least-squares importance fitting, LOO selection (Kanamori et al. 2009)",
    stochastic=True,
)
register_adapter(
    "rulsif",
    "instance",
    lambda estimator, random_state: RuLSIF(estimator=estimator, random_state=random_state),
    description="Relative least-squares importance fitting, alpha=0.1 (Yamada et al. 2011)",
    stochastic=True,
)
register_adapter(
    "nn_weighting",
    "instance",
    lambda estimator, random_state: NearestNeighborWeighting(estimator=estimator),
    description="Nearest-neighbour count weights with Laplace smoothing (Loog 2012)",
)
register_adapter(
    "tradaboost",
    "instance",
    lambda estimator, random_state: TrAdaBoost(estimator=estimator, random_state=random_state),
    description="Boosting over source + labelled target rows (Dai et al. 2007)",
    contract=False,
    benchmark=False,
)
