"""
Text: word counts with marginalized stacked denoising autoencoders
==================================================================

Reviews written about two kinds of products share some sentiment words
("great", "poor") but each domain also has its own ("sturdy" for tools,
"gripping" for books). A classifier trained on the source leans on the source's
own words, which never occur in the target. :class:`~domainadapt.feature.mSDA`
(Chen et al. 2012) learns, from the unlabelled rows of both domains, to
reconstruct each word from the others: target-only words become tied to the
shared ones, and the classifier can use them.
"""

# %%
# Generated word counts
# ---------------------
# :func:`~domainadapt.datasets.make_topic_shift` draws bag-of-words counts from
# a generative model of two domains. Real text usually comes as a sparse matrix
# (``CountVectorizer``); the strategies accept :mod:`scipy.sparse` input.
import matplotlib.pyplot as plt
import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from domainadapt.datasets import make_topic_shift
from domainadapt.feature import mSDA
from domainadapt.model import NoAdaptation

source, target = make_topic_shift(1500, 1500, n_features=400, random_state=0)
Xs, Xt = sparse.csr_matrix(source.X), sparse.csr_matrix(target.X)
print(f"{Xs.shape[1]} words, {100 * (1 - Xs.nnz / np.prod(Xs.shape)):.0f} % zeros")

# %%
# The two vocabularies differ
# ---------------------------
# Mean count of every word in each domain: words near the axes are (almost)
# used in one domain only.
fig, ax = plt.subplots(figsize=(4.8, 4.5))
ms, mt = np.asarray(Xs.mean(axis=0)).ravel(), np.asarray(Xt.mean(axis=0)).ravel()
ax.scatter(ms + 1e-3, mt + 1e-3, s=8, alpha=0.6)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("mean count in the source")
ax.set_ylabel("mean count in the target")
ax.set_title("word frequencies per domain")
fig.tight_layout()

# %%
# No adaptation against mSDA
# --------------------------
# Both use the same logistic regression. mSDA's defaults: 5 layers, noise 0.5,
# the codes concatenated to the (max-abs scaled) input.
clf = LogisticRegression(max_iter=2000)
models = {
    "no adaptation": NoAdaptation(estimator=clf),
    "mSDA": mSDA(estimator=clf),
}
accuracy = {}
for name, model in models.items():
    model.fit((Xs, source.y), Xt)
    accuracy[name] = model.score(Xt, target.y)
    print(f"{name:14s} target accuracy {accuracy[name]:.3f}")

fig, ax = plt.subplots(figsize=(4.5, 3.5))
ax.bar(list(accuracy), list(accuracy.values()), color=["tab:gray", "tab:blue"])
ax.set_ylim(0.5, 1)
ax.set_ylabel("target accuracy")
for i, v in enumerate(accuracy.values()):
    ax.text(i, v + 0.01, f"{v:.3f}", ha="center")
fig.tight_layout()
plt.show()
