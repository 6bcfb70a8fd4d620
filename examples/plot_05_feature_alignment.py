"""
Feature family: CORAL and subspace alignment, before and after
==============================================================

Feature-based strategies map the source (and sometimes the target) into a
representation where the two domains look alike, then train the classifier
there. :class:`~domainadapt.feature.CORAL` re-colours the source so that its
mean and covariance match the target's;
:class:`~domainadapt.feature.SubspaceAlignment` projects each domain on its
principal subspace and rotates the source basis onto the target's.
``transform(X, domain="source" | "target")`` returns the aligned features.
"""

# %%
# A stretched and rotated 2-D shift
# ---------------------------------
# Rotated moons whose target is also stretched along one axis, so that first
# and second moments differ.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from domainadapt.datasets import make_rotated_moons, make_shifted_digits
from domainadapt.feature import CORAL, SubspaceAlignment
from domainadapt.model import NoAdaptation

source, target = make_rotated_moons(300, 300, angle=30, noise=0.1, random_state=0)
Xt = target.X * np.array([1.6, 0.8]) + np.array([0.5, -0.3])

coral = CORAL().fit(source, Xt)
sa = SubspaceAlignment(n_components=2).fit(source, Xt)
views = {
    "original features": (source.X, Xt),
    "CORAL": (coral.transform(source.X, domain="source"), coral.transform(Xt, domain="target")),
    "SubspaceAlignment": (sa.transform(source.X, domain="source"), sa.transform(Xt, domain="target")),
}

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (title, (Zs, Zt)) in zip(axes, views.items()):
    ax.scatter(*Zs.T, s=6, c=source.y, cmap="coolwarm", marker="o", alpha=0.7)
    ax.scatter(*Zt.T, s=6, c="k", marker="x", alpha=0.4)
    ax.set_title(title)
axes[0].legend(["source (colour = class)", "target"], loc="lower left")
fig.tight_layout()

# %%
# In 64 dimensions: rotated digits
# --------------------------------
# A 2-D PCA of the pooled rows shows how far apart the domains lie before and
# after alignment; the target accuracy of a logistic regression trained on the
# aligned source says whether it matters.
source, target = make_shifted_digits("rotation", random_state=0)
clf = LogisticRegression(max_iter=1000)
models = {
    "no adaptation": NoAdaptation(estimator=clf),
    "CORAL": CORAL(estimator=clf),
    "SubspaceAlignment": SubspaceAlignment(estimator=clf),
}
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (title, model) in zip(axes, models.items()):
    model.fit(source, target.X)
    if title == "no adaptation":
        Zs, Zt = source.X, target.X
    else:
        Zs, Zt = model.transform(source.X, domain="source"), model.transform(target.X)
    pca = PCA(n_components=2).fit(np.vstack([Zs, Zt]))
    ax.scatter(*pca.transform(Zs).T, s=4, alpha=0.5, label="source")
    ax.scatter(*pca.transform(Zt).T, s=4, alpha=0.5, label="target")
    accuracy = model.score(target.X, target.y)
    ax.set_title(f"{title}\ntarget accuracy {accuracy:.3f}")
    print(f"{title:18s} target accuracy {accuracy:.3f}")
axes[0].legend(loc="upper right")
fig.tight_layout()
plt.show()
