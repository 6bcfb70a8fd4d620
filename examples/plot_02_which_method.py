"""
Which method should I use?
==========================

:class:`domainadapt.selection.AutoAdapter` answers without a single target
label: it holds out part of the labelled source, fits every candidate strategy
on the rest plus the unlabelled target, scores each with unsupervised scorers
(reverse validation and ClassAMI, by default), ranks them, and lets the three
best vote on each prediction, unless most scorers rate the best below no
adaptation or their row-by-row evidence says it is worse (the negative-transfer
guard keeps no adaptation alone then).
"""

# %%
# Data: scikit-learn's digits, the target half rotated by 12 degrees
# -------------------------------------------------------------------
# :func:`~domainadapt.datasets.make_shifted_digits` needs no download. We pass
# only ``target.X`` to ``fit``: the target labels are kept aside to check the
# choice afterwards.
import matplotlib.pyplot as plt
import numpy as np

from domainadapt.datasets import make_shifted_digits
from domainadapt.selection import AutoAdapter

source, target = make_shifted_digits("rotation", random_state=0)

# %%
# The search
# ----------
# A few candidates of different families keep the example fast; leave
# ``candidates`` out to try the whole default portfolio.
auto = AutoAdapter(
    candidates=["no_adaptation", "coral", "subspace_alignment", "kliep", "ot_mapping",
                "label_propagation"],
    random_state=0,
)
auto.fit(source, target.X)
print(auto.report())

# %%
# ``cv_results_`` holds the same numbers as arrays (``pandas.DataFrame(auto.cv_results_)``
# gives a table). ``mean_rank`` is in [0, 1], higher is better.
res = auto.cv_results_
order = np.argsort(res["mean_rank"])
colors = ["tab:green" if res["candidate"][i] in auto.committee_ else "tab:gray" for i in order]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(np.asarray(res["candidate"])[order], np.asarray(res["mean_rank"])[order], color=colors)
ax.set_xlabel("mean rank over the unsupervised scorers (higher is better)")
ax.set_title("AutoAdapter's committee (green): " + ", ".join(auto.committee_))
fig.tight_layout()
plt.show()

# %%
# Was it a good choice?
# ---------------------
# Only now do we look at the target labels.
for name, candidate in auto.candidates_.items():
    print(f"{name:20s} target accuracy {candidate.score(target.X, target.y):.3f}")
print(f"committee: {', '.join(auto.committee_)} (refitted on all the source, majority "
      f"vote) -> {auto.score(target.X, target.y):.3f}")
