"""
Is there a shift between my two data sets?
==========================================

Before adapting anything, check that the source (labelled) and target
(unlabelled) data actually differ. :func:`domainadapt.selection.domain_shift_report`
gives two numbers:

* the **proxy A-distance**, from the held-out error of a classifier that tells
  source rows from target rows (0: it cannot, 2: it always can);
* an **MMD two-sample test** (Gaussian kernel), with a permutation p-value.
"""

# %%
# Two pairs of domains
# --------------------
# A Gaussian covariate shift whose size we control: ``shift=0`` draws both domains
# from the same distribution, ``shift=1.5`` moves the target mean.
import matplotlib.pyplot as plt

from domainadapt.datasets import make_gaussian_shift
from domainadapt.selection import domain_shift_report, proxy_a_distance

same_s, same_t, _ = make_gaussian_shift(300, 300, shift=0.0, random_state=0)
moved_s, moved_t, _ = make_gaussian_shift(300, 300, shift=1.5, random_state=0)

# %%
# The report
# ----------
# Only the features are read: the target labels are not needed.
for name, (s, t) in {"no shift": (same_s, same_t), "shift 1.5": (moved_s, moved_t)}.items():
    report = domain_shift_report(s, t.X, n_permutations=100)
    print(f"{name:10s} {report}")

# %%
# The shift grows with the distance between the means
# ---------------------------------------------------
# The proxy A-distance is cheap: compute it over a range of shifts next to a
# scatter plot of the most shifted pair.
shifts = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
pads = []
for shift in shifts:
    s, t, _ = make_gaussian_shift(300, 300, shift=shift, random_state=0)
    pads.append(proxy_a_distance(s, t))

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].scatter(*moved_s.X.T, s=8, alpha=0.6, label="source")
axes[0].scatter(*moved_t.X.T, s=8, alpha=0.6, label="target")
axes[0].set_title("shift = 1.5")
axes[0].legend()
axes[0].set_aspect("equal")
axes[1].plot(shifts, pads, "o-")
axes[1].set_xlabel("distance between the domain means")
axes[1].set_ylabel("proxy A-distance")
axes[1].set_ylim(0, 2)
axes[1].set_title("proxy A-distance grows with the shift")
fig.tight_layout()
plt.show()

# %%
# A large distance does not say that a model will fail on the target (the
# labels may follow the same rule in both domains), only that the data differ;
# the next examples measure what adaptation does about it.
