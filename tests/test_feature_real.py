"""Accuracy floors of TCA, JDA and SA on the MNIST/USPS subsets of the JDA paper.

Protocol of Long et al. (ICCV 2013): rows L2-normalised, all source rows
labelled, every target row tested, 1-NN on the embedding. Paper (Table 2):
USPS->MNIST NN 44.70, TCA 51.05, JDA 59.65; MNIST->USPS NN 65.94, TCA 56.28,
JDA 67.28. Measured here (full settings): TCA 51.15 / 56.44 (mu=1), JDA (T=10)
59.45 / 67.33, SA (d=50) 54.40 / 66.44. The floors sit ~1.5 points below what
we measure with the shortened JDA runs used to stay fast.
"""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from domainadapt.datasets import load_mnist_usps_jda
from domainadapt.feature import JDA, TCA, SubspaceAlignment

NN_BASELINE = {"usps->mnist": 0.4470, "mnist->usps": 0.6594}


@pytest.fixture(scope="module")
def digits(data_dir):
    doms = load_mnist_usps_jda(data_home=data_dir, normalize="l2")
    return {k: (d.X, d.y) for k, d in doms.items()}


def one_nn(adapter, X_s, y_s, X_t, y_t):
    adapter.fit((X_s, y_s), X_t)
    knn = KNeighborsClassifier(1).fit(adapter.transform(X_s, domain="source"), y_s)
    return knn.score(adapter.transform(X_t), y_t)


def test_no_adaptation_baseline_is_the_papers(digits):
    (X_u, y_u), (X_m, y_m) = digits["usps"], digits["mnist"]
    assert KNeighborsClassifier(1).fit(X_u, y_u).score(X_m, y_m) == pytest.approx(0.4470)


def test_tca_usps_to_mnist(digits):
    (X_s, y_s), (X_t, y_t) = digits["usps"], digits["mnist"]
    acc = one_nn(TCA(100), X_s, y_s, X_t, y_t)  # measured 51.15 % (paper 51.05)
    assert acc > 0.50 > NN_BASELINE["usps->mnist"]


def test_sa_usps_to_mnist(digits):
    (X_s, y_s), (X_t, y_t) = digits["usps"], digits["mnist"]
    # the paper's setting (d=50, rows as given), not the defaults
    acc = one_nn(SubspaceAlignment(50, preprocess=None), X_s, y_s, X_t, y_t)  # measured 54.40 %
    assert acc > 0.53


@pytest.mark.parametrize(
    "source, target, floor",
    [
        # n_iter=2: 58.60 % (T=10: 59.45, paper 59.65)
        ("usps", "mnist", 0.57),
        # n_iter=2: 69.06 % (T=10: 67.33, paper 67.28); TCA is below NN here, JDA above
        ("mnist", "usps", 0.67),
    ],
)
def test_jda(digits, source, target, floor):
    (X_s, y_s), (X_t, y_t) = digits[source], digits[target]
    jda = JDA(100, n_iter=2).fit((X_s, y_s), X_t)
    acc = float(np.mean(jda.pseudo_labels_ == y_t))  # 1-NN on the final embedding
    assert acc > floor > NN_BASELINE[f"{source}->{target}"]
    assert len(jda.history_) == jda.n_iter_ + 1
