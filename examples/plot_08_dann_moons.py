"""
Model family: DANN against a source-only network
================================================

:class:`~domainadapt.model.DANN` (Ganin et al. 2016) trains a network whose
features must let a head classify the source **and** fool a domain
discriminator placed behind a gradient-reversal layer, so that source and
target features become indistinguishable.
:class:`~domainadapt.model.SourceOnly` trains the same network on the source
alone. With tabular inputs no network needs to be written: a small MLP is
sized from the data, and the number of epochs too.
"""

# %%
# Data and the two models
# -----------------------
# The target is rotated by 35 degrees; ``fit`` receives ``Domain(target.X)``,
# the target without its labels.
import matplotlib.pyplot as plt
import numpy as np

from domainadapt import Domain
from domainadapt.datasets import make_rotated_moons
from domainadapt.model import DANN, SourceOnly

source, target = make_rotated_moons(300, 300, angle=35, random_state=0)
models = {
    "SourceOnly": SourceOnly(device="cpu", random_state=0),
    "DANN": DANN(device="cpu", random_state=0),
}
for name, model in models.items():
    model.fit(source, Domain(target.X))
    print(f"{name:10s} target accuracy {model.score(target.X, target.y):.3f} "
          f"({model.n_epochs_} epochs, {model.n_iter_} updates)")

# %%
# Decision boundaries
# -------------------
xx, yy = np.meshgrid(np.linspace(-1.8, 2.8, 200), np.linspace(-1.6, 2.2, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    proba = model.predict_proba(grid)[:, 1].reshape(xx.shape)
    ax.contourf(xx, yy, proba, levels=20, cmap="coolwarm", alpha=0.3)
    ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(*source.X.T, c=source.y, cmap="coolwarm", s=6, alpha=0.35)
    ax.scatter(*target.X.T, c=target.y, cmap="coolwarm", s=10, marker="x")
    ax.set_title(f"{name}: target accuracy {model.score(target.X, target.y):.3f}")
fig.tight_layout()
plt.show()

# %%
# One seed is not a measurement
# -----------------------------
# Adversarial training is noisy: repeat over a few seeds (new data and a new
# initialisation each time) before concluding.
scores = {name: [] for name in models}
for seed in range(1, 4):
    s, t = make_rotated_moons(300, 300, angle=35, random_state=seed)
    for name, cls in (("SourceOnly", SourceOnly), ("DANN", DANN)):
        model = cls(device="cpu", random_state=seed).fit(s, Domain(t.X))
        scores[name].append(model.score(t.X, t.y))
for name, values in scores.items():
    print(f"{name:10s} seeds 1-3: " + " ".join(f"{v:.3f}" for v in values)
          + f"  mean {np.mean(values):.3f}")

# %%
# See :doc:`/deep` for longer training runs (DANN gains on every seed after
# about 5000 updates with the paper's network) and the other deep strategies.
