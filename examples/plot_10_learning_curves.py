"""
Learning curves of a deep strategy
==================================

Every deep strategy keeps one record per epoch in ``history_``: the mean of
each logged loss, the learning rate, the epoch's duration, and whatever the
callbacks add. Plotting them is the first thing to do when an adversarial
method behaves oddly.
"""

# %%
# Training DANN with two extra metrics
# ------------------------------------
# :class:`~domainadapt.training.EarlyStopping` logs its monitor, here the mean
# prediction entropy on the target (no labels needed), in every record; with a
# large ``patience`` it only watches. A small custom
# :class:`~domainadapt.training.Callback` also logs the true target accuracy:
# it reads the target labels, so it is for illustration only.
import matplotlib.pyplot as plt
import numpy as np
import torch

from domainadapt import Domain
from domainadapt.datasets import make_rotated_moons
from domainadapt.model import DANN
from domainadapt.training import Callback, EarlyStopping


class TargetAccuracy(Callback):
    """Accuracy on labelled target rows at the end of every epoch (peeking!)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_epoch_end(self, trainer, record):
        x = torch.as_tensor(self.X, dtype=torch.float32, device=trainer.device)
        was_training = trainer.parts.training
        trainer.parts.eval()
        with torch.no_grad():
            pred = trainer.hooks.predict_logits(trainer.parts, x).argmax(1).cpu().numpy()
        trainer.parts.train(was_training)
        record["target_accuracy"] = float(np.mean(pred == self.y))


source, target = make_rotated_moons(300, 300, angle=35, random_state=0)
model = DANN(
    device="cpu",
    random_state=0,
    callbacks=[EarlyStopping(patience=1000, restore_best=False), TargetAccuracy(target.X, target.y)],
)
model.fit(source, Domain(target.X))
print(model.history_[-1])

# %%
# The curves
# ----------
# The classification loss falls; the domain loss of the discriminator stays
# near :math:`\log 2 \approx 0.69` and its accuracy near 0.5 while the features
# fool it. DANN ramps the weight of the adversarial term from 0 up to
# ``trade_off`` (``reversal_gamma`` sets how fast), and the adversarial game
# takes many epochs to move the target features: the target accuracy need not
# be monotone, while the target entropy, which only says that the predictions
# are confident, can keep falling regardless.
history = {key: np.array([r[key] for r in model.history_]) for key in model.history_[0]}
epoch = history["epoch"]
fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
axes[0, 0].plot(epoch, history["classification"], label="classification (source)")
axes[0, 0].plot(epoch, history["domain"], label="domain discriminator")
axes[0, 0].axhline(np.log(2), color="k", ls=":", lw=1)
axes[0, 0].set_title("losses")
axes[0, 0].legend()
axes[0, 1].plot(epoch, history["domain_acc"])
axes[0, 1].axhline(0.5, color="k", ls=":", lw=1)
axes[0, 1].set_title("discriminator accuracy")
axes[1, 0].plot(epoch, history["target_entropy"], color="tab:purple")
axes[1, 0].set_title("target prediction entropy (no labels)")
axes[1, 1].plot(epoch, history["target_accuracy"], color="tab:green")
axes[1, 1].set_title("target accuracy (uses the labels)")
for ax in axes[1]:
    ax.set_xlabel("epoch")
fig.tight_layout()
plt.show()

best = int(np.argmax(history["target_accuracy"]))
print(f"best target accuracy {history['target_accuracy'][best]:.3f} at epoch {best + 1}; "
      f"last {history['target_accuracy'][-1]:.3f} at epoch {int(epoch[-1])}; "
      f"lowest target entropy at epoch {int(np.argmin(history['target_entropy'])) + 1}")

# %%
# With ``EarlyStopping(patience=5)`` training would stop once the target
# entropy no longer falls, and ``restore_best=True`` (the default) would bring
# back the weights of the best epoch. Other keys of the records: ``loss`` (the
# total), ``step`` (updates so far), ``lr`` (constant here; see ``lr_schedule``)
# and ``time`` (seconds per epoch).
