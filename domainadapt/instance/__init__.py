"""Instance-based strategies: importance weights for the source rows."""

from ..registry import register
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

register("classifier_ratio", "instance",
         "Importance weights from a domain classifier (Bickel et al. 2009)")(ClassifierDensityRatio)
register("kmm", "instance",
         "Kernel mean matching, exact QP or tiled FISTA (Huang et al. 2007)")(KMM)
register("kliep", "instance",
         "KL importance estimation with likelihood CV (Sugiyama et al. 2008)",
         stochastic=True)(KLIEP)
register("ulsif", "instance",
         "Least-squares importance fitting, LOO selection (Kanamori et al. 2009)",
         stochastic=True)(ULSIF)
register("rulsif", "instance",
         "Relative least-squares importance fitting, alpha=0.1 (Yamada et al. 2011)",
         stochastic=True)(RuLSIF)
register("nn_weighting", "instance",
         "Nearest-neighbour count weights with Laplace smoothing (Loog 2012)")(NearestNeighborWeighting)
register("tradaboost", "instance",
         "Boosting over source + labelled target rows (Dai et al. 2007)",
         contract=False, benchmark=False)(TrAdaBoost)
