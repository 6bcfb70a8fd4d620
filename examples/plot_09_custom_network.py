"""
Bring your own network
======================

Every deep strategy takes a ``network=`` argument: any :class:`torch.nn.Module`
that maps a batch of inputs to a batch of feature vectors. The strategy adds
what its method needs on top (a classification head, a domain discriminator,
an alignment loss) and finds the feature width by a forward pass, so the
module needs no special interface. Here a small convolutional network reads
the 8x8 digit images, and :class:`~domainadapt.model.DCORAL` aligns the
covariances of its features between the domains.
"""

# %%
# Images, not vectors
# -------------------
# :func:`~domainadapt.datasets.make_shifted_digits` returns flattened images;
# reshape them to ``(n, channels, height, width)`` for a CNN.
import matplotlib.pyplot as plt
import numpy as np
from torch import nn

from domainadapt.datasets import make_shifted_digits
from domainadapt.model import DCORAL, SourceOnly

source, target = make_shifted_digits("rotation+blur", random_state=0)
Xs = source.X.reshape(-1, 1, 8, 8)
Xt = target.X.reshape(-1, 1, 8, 8)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for j in range(8):
    axes[0, j].imshow(Xs[j, 0], cmap="gray_r")
    axes[1, j].imshow(Xt[j, 0], cmap="gray_r")
    for ax in axes[:, j]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("source")
axes[1, 0].set_ylabel("target")
fig.suptitle("the target images are rotated by 10 degrees and blurred")
fig.tight_layout()


# %%
# The feature extractor
# ---------------------
# A plain module: two convolutions and a linear layer, 64 features out.
class SmallCNN(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # 4x4
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 2x2
            nn.Flatten(), nn.Linear(8 * width, 64), nn.ReLU(),
        )

    def forward(self, x):
        return self.body(x)


# %%
# Passing it
# ----------
# Give the **class** (or a zero-argument factory such as
# ``functools.partial(SmallCNN, width=32)``): it is then built inside the seeded
# context, so ``random_state`` fixes its initial weights too. An *instance* is
# copied with its current (e.g. pretrained) weights. Source and target may be
# arrays, ``(X, y)`` tuples, :class:`~domainadapt.Domain` objects, or torch
# ``Dataset`` / ``DataLoader`` objects.
common = dict(network=SmallCNN, n_epochs=20, device="cpu", random_state=0)
models = {"SourceOnly": SourceOnly(**common), "DCORAL": DCORAL(**common)}
accuracy = {}
for name, model in models.items():
    model.fit((Xs, source.y), Xt)
    accuracy[name] = model.score(Xt, target.y)
    print(f"{name:10s} target accuracy {accuracy[name]:.3f}")
print(models["DCORAL"].parts_)

# %%
# Results
# -------
# ``transform`` returns the learned features of the network: after DCORAL
# the target features spread over more of the source's range.
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [0.7, 1, 1]})
axes[0].bar(list(accuracy), list(accuracy.values()), color=["tab:gray", "tab:blue"])
axes[0].set_ylim(0, 1)
axes[0].set_ylabel("target accuracy")
for ax, (name, model) in zip(axes[1:], models.items()):
    Fs, Ft = model.transform(Xs), model.transform(Xt)
    mean = Fs.mean(axis=0)
    _, _, vt = np.linalg.svd(Fs - mean, full_matrices=False)  # source principal axes
    ax.scatter(*((Fs - mean) @ vt[:2].T).T, s=3, alpha=0.4, label="source")
    ax.scatter(*((Ft - mean) @ vt[:2].T).T, s=3, alpha=0.4, label="target")
    ax.set_title(f"{name} features (source PCA)")
axes[1].legend(loc="upper right")
fig.tight_layout()
plt.show()
