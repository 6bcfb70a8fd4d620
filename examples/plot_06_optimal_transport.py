"""
Optimal transport: where do the source points go?
=================================================

:class:`~domainadapt.feature.OTMapping` (Courty et al. 2017) computes an
optimal transport plan between the source and target samples and moves each
source point to the barycentre of the target points it is sent to. The
classifier is then trained on the transported source, which lies on the
target.
"""

# %%
# Data: moons whose target is rotated by 40 degrees
# -------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.svm import SVC

from domainadapt.datasets import make_rotated_moons
from domainadapt.feature import OTMapping
from domainadapt.model import NoAdaptation

source, target = make_rotated_moons(200, 200, angle=40, random_state=0)

# %%
# Exact and entropic transport
# ----------------------------
# ``method="emd"`` solves the exact problem; ``"sinkhorn"`` (the default) adds an
# entropic regularisation ``reg`` that spreads the plan, so the barycentres are
# pulled towards the middle of the target. ``class_reg`` discourages a target
# point from receiving mass from several classes.
mappings = {
    "exact (emd)": OTMapping(method="emd", estimator=SVC()),
    "Sinkhorn, reg=0.1": OTMapping(method="sinkhorn", reg=0.1, estimator=SVC()),
    "Sinkhorn + class_reg": OTMapping(method="sinkhorn", reg=0.1, class_reg=1.0, estimator=SVC()),
}
baseline = NoAdaptation(estimator=SVC()).fit(source, target.X)
print(f"no adaptation        target accuracy {baseline.score(target.X, target.y):.3f}")

fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
for ax, (title, ot) in zip(axes, mappings.items()):
    ot.fit(source, target.X)
    moved = ot.transform(source.X, domain="source")
    accuracy = ot.score(target.X, target.y)
    print(f"{title:20s} target accuracy {accuracy:.3f}")
    ax.scatter(*target.X.T, s=6, c="lightgray", label="target")
    for i in range(0, len(moved), 8):  # a few displacements
        ax.plot(*np.c_[source.X[i], moved[i]], color="k", lw=0.5, alpha=0.5)
    ax.scatter(*source.X.T, s=6, c=source.y, cmap="coolwarm", alpha=0.3, marker="o")
    ax.scatter(*moved.T, s=10, c=source.y, cmap="coolwarm", marker="^",
               edgecolor="k", linewidth=0.2)
    ax.set_title(f"{title}\ntarget accuracy {accuracy:.3f}")
axes[0].legend(["target", "displacement"], loc="lower left")
fig.suptitle("source points (circles) and their transported images (triangles)")
fig.tight_layout()
plt.show()
