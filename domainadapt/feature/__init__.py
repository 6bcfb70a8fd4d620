"""Feature-based strategies: align the representations of source and target."""

from ..registry import register_adapter
from .coral import CORAL
from .losses import DeepCORAL, JointMMDAlignment, MMDAlignment
from .msda import mSDA
from .ot import OTMapping
from .selection import MMDFeatureSelection
from .subspace import SubspaceAlignment
from .tca import JDA, TCA

__all__ = [
    "CORAL",
    "JDA",
    "MMDFeatureSelection",
    "SubspaceAlignment",
    "TCA",
    "OTMapping",
    "mSDA",
    "MMDAlignment",
    "JointMMDAlignment",
    "DeepCORAL",
]

register_adapter(
    "coral",
    "feature",
    lambda estimator, random_state: CORAL(estimator=estimator),
    description="CORAL: align second-order statistics (Sun et al. 2016)",
)
# The factories keep each method's defaults (the sizes meant for real data); the contract
# suite's 4-feature fixture gets a 3-dimensional subspace/embedding through test_params.
register_adapter(
    "subspace_alignment",
    "feature",
    lambda estimator, random_state: SubspaceAlignment(estimator=estimator),
    description="Subspace alignment of PCA bases (Fernando et al. 2013)",
    test_params={"n_components": 3},
)
register_adapter(
    "tca",
    "feature",
    lambda estimator, random_state: TCA(estimator=estimator, random_state=random_state),
    description="Transfer component analysis, linear kernel (Pan et al. 2011)",
    test_params={"n_components": 3},
)
register_adapter(
    "jda",
    "feature",
    lambda estimator, random_state: JDA(estimator=estimator, random_state=random_state),
    description="Joint distribution adaptation with 1-NN pseudo-labels (Long et al. 2013)",
    test_params={"n_components": 3, "n_iter": 5},
)
register_adapter(
    "mmd_feature_selection",
    "feature",
    lambda estimator, random_state: MMDFeatureSelection(estimator=estimator),
    description="Keep the features with the lowest per-feature MMD (Uguroglu & Carbonell 2011)",
)
register_adapter(
    "msda",
    "feature",
    lambda estimator, random_state: mSDA(estimator=estimator),
    description="Marginalized stacked denoising autoencoder (Chen et al. 2012)",
    test_params={"n_layers": 3},
    # Meant for sparse bag-of-words text; on the runner's dense pixel tasks it only hurts
    # and its 6x wider output makes the downstream logistic regression slow.
    benchmark=False,
)
register_adapter(
    "ot_mapping",
    "feature",
    lambda estimator, random_state: OTMapping(estimator=estimator, random_state=random_state),
    description="Optimal-transport mapping, exact or entropic Sinkhorn (Courty et al. 2017)",
)
