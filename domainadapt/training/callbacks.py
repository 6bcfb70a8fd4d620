"""Callbacks of the training engine: early stopping and checkpoints.

A callback is any object with some of the hooks below; the engine calls them in
the order they are listed in ``callbacks=``. A callback is deep-copied at the start
of ``fit`` (the adapter's parameters are never mutated); the fitted copies are
in ``adapter.callbacks_``.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Trainer

__all__ = ["Callback", "EarlyStopping", "Checkpoint", "save_checkpoint", "load_checkpoint"]


class Callback:
    """Base class of the training callbacks (all hooks optional).

    Notes
    -----
    A subclass overrides any of these hooks, which the
    :class:`~domainadapt.training.Trainer` calls:

    on_fit_start(trainer)
        After the parts, optimisers and (on resume) the checkpoint are loaded.
    on_step_end(trainer, logs)
        After every optimisation step; ``logs`` holds that step's losses (tensors).
    on_epoch_end(trainer, record)
        With the epoch's ``history_`` record (a dict of floats) before it is stored: a
        callback may add metrics to it; setting ``trainer.stop_training = True`` ends
        training after this epoch.
    on_fit_end(trainer)
        After the last epoch (also after an early stop).
    state_dict() / load_state_dict(state)
        What to keep in a checkpoint (plain containers and tensors only).

    Examples
    --------
    A callback that logs the step count in each epoch's record and stops training
    after two epochs of the ten asked for:

    >>> import numpy as np
    >>> from domainadapt.model import SourceOnly
    >>> class StopAfterTwo(Callback):
    ...     def on_epoch_end(self, trainer, record):
    ...         record["steps"] = trainer.step
    ...         if record["epoch"] == 2:
    ...             trainer.stop_training = True
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = SourceOnly(hidden_sizes=(8,), n_epochs=10, batch_size=16, progress=False,
    ...                    callbacks=[StopAfterTwo()], random_state=0).fit((X_s, y_s), X_t)
    >>> [(record["epoch"], record["steps"]) for record in model.history_]
    [(1, 4), (2, 8)]
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when a monitored score has not improved for ``patience`` epochs.

    Target labels are never needed: the default monitor is the mean entropy of the
    predictions on the target rows, :math:`\\frac1m\\sum_j H(p(y|x^t_j))` (lower is
    more confident; Morerio et al., ICLR 2018 use it for model selection).

    Parameters
    ----------
    monitor : str or callable, default="target_entropy"
        ``"target_entropy"``; ``"source_val_loss"`` (cross-entropy on source rows held
        out from training, see ``validation_fraction``); ``"source_loss"``
        (cross-entropy on training source rows, in evaluation mode); any key of the
        epoch record (``"loss"``, ``"domain"`` ...); or ``monitor(trainer) -> float``.
    patience : int, default=5
        Epochs without improvement before stopping.
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    mode : {"min", "max"}, default="min"
    restore_best : bool, default=True
        Load the weights of the best epoch when training ends.
    max_rows : int, default=2048
        Rows used by the built-in monitors (a fixed, evenly spaced subset).
    validation_fraction : float, default=0.0
        Fraction of the source rows (stratified, drawn from ``random_state``) held out
        of training for ``"source_val_loss"`` (array inputs only).

    Attributes
    ----------
    best_score, best_epoch, stopped_epoch

    Examples
    --------
    A monitor that never improves after the first epoch stops the run ``patience``
    epochs later; the fitted copy of the callback is in ``callbacks_`` (the one
    passed is left untouched):

    >>> import numpy as np
    >>> from domainadapt.model import SourceOnly
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> stop = EarlyStopping(monitor=lambda trainer: 0.0, patience=2)
    >>> model = SourceOnly(hidden_sizes=(8,), n_epochs=20, batch_size=16, progress=False,
    ...                    callbacks=[stop], random_state=0).fit((X_s, y_s), X_t)
    >>> fitted = model.callbacks_[0]
    >>> len(model.history_), fitted.best_epoch, fitted.stopped_epoch, stop.stopped_epoch
    (3, 1, 3, None)

    The default monitor, the target entropy, is logged in every record:

    >>> model = SourceOnly(hidden_sizes=(8,), n_epochs=3, batch_size=16, progress=False,
    ...                    callbacks=[EarlyStopping()], random_state=0).fit((X_s, y_s), X_t)
    >>> all(0 <= record["target_entropy"] <= np.log(2) for record in model.history_)
    True
    """

    def __init__(
        self,
        monitor: str | Callable[[Any], float] = "target_entropy",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
        max_rows: int = 2048,
        validation_fraction: float = 0.0,
    ):
        if not isinstance(validation_fraction, (int, float)) or not 0 <= validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1); got {validation_fraction!r}.")
        if monitor == "source_val_loss" and validation_fraction <= 0:
            raise ValueError("monitor='source_val_loss' needs validation_fraction > 0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max'; got {mode!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive int; got {patience!r}.")
        if not isinstance(monitor, str) and not callable(monitor):
            raise TypeError(f"monitor must be a string or a callable; got {monitor!r}.")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best = restore_best
        self.max_rows = max_rows
        self.validation_fraction = float(validation_fraction)
        self.best_score = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_state: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.monitor if isinstance(self.monitor, str) else "monitor"

    def _score(self, trainer: Trainer, record: dict[str, float]) -> float:
        if callable(self.monitor):
            return float(self.monitor(trainer))
        if self.monitor == "target_entropy":
            return trainer.target_entropy(self.max_rows)
        if self.monitor == "source_loss":
            return trainer.source_loss(self.max_rows)
        if self.monitor == "source_val_loss":
            return trainer.source_loss(self.max_rows, validation=True)
        if self.monitor in record:
            return float(record[self.monitor])
        raise ValueError(
            f"EarlyStopping monitor {self.monitor!r} is not 'target_entropy', 'source_loss', "
            f"'source_val_loss' or a logged value; logged: {sorted(record)}."
        )

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        score = self._score(trainer, record)
        if self.monitor not in record:
            record[self.name] = score
        better = (
            score < self.best_score - self.min_delta
            if self.mode == "min"
            else score > self.best_score + self.min_delta
        )
        if better:
            self.best_score, self.best_epoch, self.wait = score, int(record["epoch"]), 0
            if self.restore_best:
                self._best_state = copy.deepcopy(trainer.parts_state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = int(record["epoch"])
                trainer.stop_training = True

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self._best_state is not None:
            trainer.load_parts_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_score": float(self.best_score),
            "best_epoch": int(self.best_epoch),
            "wait": int(self.wait),
            "stopped_epoch": -1 if self.stopped_epoch is None else int(self.stopped_epoch),
            "best_state": self._best_state if self._best_state is not None else {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = None if state["stopped_epoch"] < 0 else int(state["stopped_epoch"])
        self._best_state = state["best_state"] or None


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no arbitrary code runs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class Checkpoint(Callback):
    """Save the whole training state to ``dirpath/filename``.

    The file holds the parts, the optimisers, the gradient scaler, the reversal
    schedule, the epoch and step counters, the sampler and torch RNG states, the
    history and the callbacks' states, as tensors and plain containers:
    ``torch.load(path, weights_only=True)`` reads it, and ``resume=True`` on the
    adapter continues exactly where training stopped (bitwise-identical weights
    to an uninterrupted run on the same device).

    Parameters
    ----------
    dirpath : str or path
    every_n_steps : int, optional
        Also save every this many optimisation steps.
    every_n_epochs : int, default=1
        Save at the end of every this many epochs (0: never at epoch ends).
    filename : str, default="last.pt"

    Examples
    --------
    After 2 epochs of 4 steps the file holds the state of the last epoch end:

    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from domainadapt.model import SourceOnly
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     model = SourceOnly(hidden_sizes=(8,), n_epochs=2, batch_size=16, progress=False,
    ...                        callbacks=[Checkpoint(tmp)], random_state=0)
    ...     model = model.fit((X_s, y_s), X_t)
    ...     state = load_checkpoint(os.path.join(tmp, "last.pt"))
    >>> state["epoch"], state["step"], sorted(state["parts"])
    (2, 8, ['classifier', 'features'])

    ``checkpoint_dir=`` and ``resume=`` on the strategy do the same and continue an
    interrupted run from the file.
    """

    def __init__(
        self,
        dirpath: str | os.PathLike,
        every_n_steps: int | None = None,
        every_n_epochs: int = 1,
        filename: str = "last.pt",
    ):
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool)
            or not isinstance(every_n_steps, int)
            or every_n_steps < 1
        ):
            raise ValueError(
                f"every_n_steps must be a positive int or None; got {every_n_steps!r}."
            )
        self.dirpath = dirpath
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.filename = filename

    @property
    def path(self) -> Path:
        return Path(self.dirpath) / self.filename

    def save(self, trainer: Trainer) -> None:
        """Write the trainer's state (rank 0 only under ``torch.distributed``)."""
        if trainer.dist.rank == 0:
            save_checkpoint(trainer.state_dict(), self.path)

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self.every_n_steps and trainer.step % self.every_n_steps == 0:
            self.save(trainer)

    def on_epoch_saved(self, trainer: Trainer) -> None:
        """Called by the engine once the epoch's record is stored."""
        if self.every_n_epochs and trainer.epoch % self.every_n_epochs == 0:
            self.save(trainer)
