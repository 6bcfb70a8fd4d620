"""
Relation family: label propagation on rotated moons
===================================================

Relation-based strategies use the structure of the target data itself.
:class:`~domainadapt.relation.LabelPropagation` builds a nearest-neighbour
graph over the source and target points and lets the source labels diffuse
along it (label spreading, Zhou et al. 2004), so the labels follow the target
moons even where they have rotated away from the source.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.svm import SVC

from domainadapt.datasets import make_rotated_moons
from domainadapt.model import NoAdaptation
from domainadapt.relation import LabelPropagation

source, target = make_rotated_moons(200, 300, angle=40, noise=0.05, random_state=0)

# %%
# Fit and compare
# ---------------
# Without an ``estimator``, LabelPropagation predicts new points from the
# propagated labels of their neighbours. The defaults suit high-dimensional
# features (pixels, word counts); on this 2-D toy we switch off the centring of
# the domains (``align=None``) and the L2 normalisation of the rows
# (``normalize=False``: cosine neighbourhoods lose the geometry of a few
# coordinates), and give the target graph more weight against the source labels
# (``alpha=0.99``, as Zhou et al.), because here the target lies on a manifold
# that its nearest-neighbour graph follows.
models = {
    "no adaptation (SVC)": NoAdaptation(estimator=SVC()),
    "LabelPropagation": LabelPropagation(align=None, normalize=False, alpha=0.99),
}
for name, model in models.items():
    model.fit(source, target.X)
    print(f"{name:20s} target accuracy {model.score(target.X, target.y):.3f}")

# %%
# Decision regions
# ----------------
# The background is the prediction for target points on a grid.
xx, yy = np.meshgrid(np.linspace(-1.8, 2.6, 200), np.linspace(-1.5, 2.2, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    zz = model.predict(grid).reshape(xx.shape)
    ax.contourf(xx, yy, zz, alpha=0.25, cmap="coolwarm")
    ax.scatter(*source.X.T, c=source.y, cmap="coolwarm", s=8, alpha=0.3, label="source")
    ax.scatter(*target.X.T, c=target.y, cmap="coolwarm", s=12, marker="x", label="target")
    ax.set_title(f"{name}: target accuracy {model.score(target.X, target.y):.3f}")
axes[0].legend(loc="lower left")
fig.tight_layout()
plt.show()
