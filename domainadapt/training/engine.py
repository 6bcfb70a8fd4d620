"""The one training loop of every deep strategy.

:class:`Trainer` owns everything that is not a method's loss: optimisers, the
learning-rate schedule, device placement, mixed precision, the gradient-reversal
schedule, data-parallel training (``DistributedDataParallel`` for a ``loss`` hook, a
flat gradient all-reduce for a ``step`` hook; see
:mod:`~domainadapt.training.distributed`), the progress bar, callbacks,
checkpoints and ``history_``. It reads its hyper-parameters from a
:class:`~domainadapt.training.hooks.TrainConfig` and calls the method only through
its :class:`~domainadapt.training.hooks.TrainHooks` (per-step loss or step, per-epoch
hook, parameter groups, gradient-reversal schedule, logits); a
:class:`~domainadapt.training.DeepAdapter` builds both from its parameters and
methods.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._engine_state import CHECKPOINT_FORMAT, TrainerStateMixin
from .callbacks import Checkpoint, load_checkpoint
from .data import ArrayData, Batch, DatasetData, EpochPlan, LoaderData, _Cycle, epoch_batches
from .distributed import DistributedContext
from .hooks import FitContext, TrainConfig, TrainHooks, TrainState
from .optim import LR_SCHEDULES, lr_factor, make_optimizer  # noqa: F401 (re-exported)

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainConfig",
    "TrainHooks",
    "TrainState",
    "Trainer",
    "default_source_loss",
    "lr_factor",
]


class Trainer(TrainerStateMixin):
    """Runs one training: the parts, the data, a :class:`TrainConfig` and the method's
    :class:`TrainHooks`.

    Built by :meth:`DeepAdapter.fit <domainadapt.training.DeepAdapter.fit>`; it is
    handed to callbacks, which may read ``step``, ``epoch``, ``history``, ``parts``,
    ``config``, ``adapter`` and set ``stop_training``.

    Parameters
    ----------
    parts : nn.ModuleDict
        The modules trained (on ``device``).
    source, target : ArrayData, DatasetData or LoaderData
    config : TrainConfig
    hooks : TrainHooks
    n_classes, seed : int
    device : torch.device
    callbacks : list
    dist_ctx : DistributedContext
    validation : ArrayData, optional
        Held-out source rows (``EarlyStopping(monitor="val_loss")``).
    context : FitContext, optional
        The per-fit context, given to the hooks as ``state.context``.
    adapter : object, optional
        The estimator being fitted, for callbacks only (the engine never reads it).

    Attributes
    ----------
    data_parallel : {None, "ddp", "all_reduce"}
        How gradients are averaged over the ranks: not at all (one process),
        ``"ddp"`` (the hooks give a ``loss``: the parts run wrapped in
        ``DistributedDataParallel``) or ``"all_reduce"`` (the hooks give a ``step``:
        one flat all-reduce after each backward).
    ddp : DistributedDataParallel or None
        The wrapper of the parts (a :class:`~domainadapt.training.distributed.MethodLoss`)
        while a ``"ddp"`` run trains, rebuilt when the set of parameters requiring a
        gradient changes (layers unfrozen at an epoch start), ``None`` once ``run``
        returns. The parts themselves stay unwrapped in ``parts``: evaluation,
        checkpoints and the fitted estimator use them.

    Examples
    --------
    Without an estimator: a small network, a :class:`TrainConfig` and the method's
    :class:`TrainHooks` (a source cross-entropy) train for 3 epochs of 4 steps:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from domainadapt.training import TrainConfig, TrainHooks
    >>> from domainadapt.training.data import ArrayData
    >>> from domainadapt.training.distributed import DistributedContext
    >>> _ = torch.manual_seed(0)
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> parts = nn.ModuleDict({"features": nn.Linear(2, 8), "classifier": nn.Linear(8, 2)})
    >>> def logits(parts, x):
    ...     return parts["classifier"](torch.relu(parts["features"](x)))
    >>> def loss(parts, batch, state):
    ...     return nn.functional.cross_entropy(logits(parts, batch.source_x), batch.source_y), {}
    >>> trainer = Trainer(
    ...     parts, ArrayData(X_s, y_s), ArrayData(X_t),
    ...     config=TrainConfig(n_epochs=3, batch_size=16, lr=1e-2, progress=False),
    ...     hooks=TrainHooks(predict_logits=logits, loss=loss), n_classes=2, seed=0,
    ...     device=torch.device("cpu"), callbacks=[], dist_ctx=DistributedContext())
    >>> history = trainer.run()
    >>> [record["epoch"] for record in history], trainer.step
    ([1, 2, 3], 12)
    >>> history[-1]["loss"] < history[0]["loss"]
    True
    """

    def __init__(
        self,
        parts: nn.ModuleDict,
        source: ArrayData | DatasetData | LoaderData,
        target: ArrayData | DatasetData | LoaderData,
        *,
        config: TrainConfig,
        hooks: TrainHooks,
        n_classes: int,
        seed: int,
        device: torch.device,
        callbacks: list[Any],
        dist_ctx: DistributedContext,
        validation: ArrayData | None = None,
        context: FitContext | None = None,
        adapter: Any = None,
    ):
        self.config = config
        self.hooks = hooks
        self.context = context
        self.adapter = adapter
        self.parts = parts
        self.source, self.target = source, target
        self.validation = validation
        self.n_classes = n_classes
        self.n_epochs = n_epochs = config.n_epochs
        batch_size = config.batch_size
        self.device = device
        self.callbacks = callbacks
        self.dist = dist_ctx
        self.seed = seed
        self.plan = EpochPlan(
            len(source) if not isinstance(source, LoaderData) else 0,
            len(target) if not isinstance(target, LoaderData) else 0,
            batch_size,
            seed + 1,
            rank=dist_ctx.rank,
            world_size=dist_ctx.world_size,
        )
        if isinstance(source, LoaderData):
            if source.n_batches is None:
                raise ValueError("source DataLoader must have a length (len(loader)).")
            self.steps_per_epoch = source.n_batches
        else:
            self.steps_per_epoch = self.plan.steps_per_epoch
        self.max_steps = self.steps_per_epoch * n_epochs
        self.target_cycle = _Cycle(target) if isinstance(target, LoaderData) else None
        self.method_generator = torch.Generator().manual_seed(seed + 3)
        self.step = 0
        self.epoch = 0
        self.step_in_epoch = 0
        self.history: list[dict[str, float]] = []
        self.stop_training = False
        self.state = TrainState(self)
        make_reversal = hooks.reversal_schedule
        self.reversal = make_reversal(self.max_steps) if make_reversal is not None else None
        self._epoch_start_plan = self.plan.state_dict()
        # Per-step logged values of the current epoch, reduced only when read (progress bar,
        # epoch end, checkpoint): no per-step conversion or addition in the hot loop.
        self._step_logs: dict[str, list[Any]] = {}
        self._log_vectors: dict[str, Tensor] = {}
        self._folds = 0  # how many times _stacked_logs moved step values to the host
        self._bar_state: dict[str, Any] = {}  # the progress bar's lagged sums (CUDA)
        self._in_step = False
        self._build_optimizers()
        self.data_parallel: str | None = None
        if dist_ctx.world_size > 1:
            self.data_parallel = "ddp" if hooks.step is None else "all_reduce"
        self.ddp: Any = None
        self._ddp_trainable: tuple[bool, ...] = ()
        amp = config.mixed_precision
        self.autocast_dtype = None
        if amp:
            self.autocast_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None

    # ------------------------------------------------------------------ optimisers
    def _build_optimizers(self) -> None:
        cfg = self.config
        groups = self.hooks.param_groups(self.parts)
        if not isinstance(groups, dict) or not groups:
            raise TypeError("param_groups must return a non-empty dict name -> param groups.")
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for name, pgroups in groups.items():
            pgroups = [g if isinstance(g, dict) else {"params": list(g)} for g in pgroups]
            pgroups = [dict(g, params=list(g["params"])) for g in pgroups]
            pgroups = [g for g in pgroups if g["params"]]
            if not pgroups:
                raise ValueError(f"optimiser {name!r} has no trainable parameter.")
            self.optimizers[name] = make_optimizer(
                cfg.optimizer, pgroups, cfg.lr, cfg.weight_decay, cfg.momentum
            )
            for g in self.optimizers[name].param_groups:
                g["initial_lr"] = g["lr"]

    def _set_lr(self) -> None:
        f = lr_factor(self.config.lr_schedule, self.state.progress)
        for opt in self.optimizers.values():
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * f

    @property
    def current_lr(self) -> float:
        return float(next(iter(self.optimizers.values())).param_groups[0]["lr"])

    def optimize(
        self, loss: Tensor, names: str | Sequence[str], retain_graph: bool = False
    ) -> None:
        if isinstance(names, str):
            names = (names,)
        try:
            opts = [self.optimizers[n] for n in names]
        except KeyError as exc:
            raise KeyError(
                f"no optimiser named {exc.args[0]!r}; param_groups defined {sorted(self.optimizers)}"
            ) from None
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise TypeError("the training loss must be a 0-dim tensor.")
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        no_autocast = (
            contextlib.nullcontext()
            if self.autocast_dtype is None
            else torch.autocast(self.device.type, enabled=False)
        )
        with no_autocast:
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward(
                retain_graph=retain_graph
            )
        clip = self.config.max_grad_norm
        params = (
            [p for opt in opts for g in opt.param_groups for p in g["params"]]
            if self.data_parallel == "all_reduce" or clip is not None
            else []
        )
        if self.data_parallel == "all_reduce":
            self.dist.average_gradients(params)
        if self.scaler is not None:
            if clip is not None:
                for opt in opts:
                    self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, clip)
            for opt in opts:
                self.scaler.step(opt)
            self.scaler.update()
        else:
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            for opt in opts:
                opt.step()

    def _wrap_parts(self) -> None:
        """(Re)build the DDP wrapper when the parameters requiring a gradient changed."""
        trainable = tuple(p.requires_grad for p in self.parts.parameters())
        if self.ddp is not None and trainable == self._ddp_trainable:
            return
        # the old wrapper goes first: freeing it (by reference count) removes its
        # reducer's gradient hooks before the new one registers its own
        self.ddp = None
        self.ddp = self.dist.data_parallel(self.parts, self.hooks.loss, self.device)
        self._ddp_trainable = trainable

    # ------------------------------------------------------------------ evaluation
    def _eval_rows(self, data: Any, max_rows: int) -> list[tuple[Tensor, Tensor | None]]:
        if isinstance(data, LoaderData):
            out, n = [], 0
            for x, y, _ in data:
                out.append((x, y))
                n += len(x)
                if n >= max_rows:
                    break
            return out
        n = len(data)
        idx = torch.linspace(0, n - 1, min(n, max_rows)).round().long().unique()
        x, y, _ = data.fetch(idx)
        return [(x, y)]

    @torch.no_grad()
    def _logits(self, x: Tensor) -> Tensor:
        was = self.parts.training
        self.parts.eval()
        try:
            with self.autocast():
                out = self.hooks.predict_logits(self.parts, x.to(self.device))
        finally:
            self.parts.train(was)
        return out.float()

    def target_entropy(self, max_rows: int = 2048) -> float:
        """Mean prediction entropy on (a fixed subset of) the target rows."""
        total, n = 0.0, 0
        for x, _ in self._eval_rows(self.target, max_rows):
            logp = F.log_softmax(self._logits(x), dim=1)
            total += float(-(logp.exp() * logp).sum(1).sum())
            n += len(x)
        return total / max(n, 1)

    def source_loss(self, max_rows: int = 2048, validation: bool = False) -> float:
        """Cross-entropy on (a fixed subset of) the training source rows, or on the
        held-out ones (``validation=True``), in evaluation mode."""
        data = self.source
        if validation:
            if self.validation is None:
                raise ValueError(
                    "no held-out source rows: give EarlyStopping(validation_fraction=...) "
                    "with array inputs."
                )
            data = self.validation
        total, n = 0.0, 0
        for x, y in self._eval_rows(data, max_rows):
            total += float(F.cross_entropy(self._logits(x), y.to(self.device), reduction="sum"))
            n += len(x)
        return total / max(n, 1)

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # ------------------------------------------------------------------ loop
    def _checkpoints(self) -> list[Checkpoint]:
        return [cb for cb in self.callbacks if isinstance(cb, Checkpoint)]

    def resume_from(self, path: str | Path) -> None:
        self.load_state_dict(load_checkpoint(path))

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    def _progress_bar(self):
        show = self.config.progress
        if show is None:
            show = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if not show or self.dist.rank != 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=self.max_steps,
            initial=self.step,
            desc=self.config.name,
            leave=False,
            dynamic_ncols=True,
        )

    def run(self) -> list[dict[str, float]]:
        """Train until ``n_epochs`` or a callback stops; returns the history."""
        rng = getattr(self, "_resume_rng", None)
        if rng is not None:
            torch.set_rng_state(rng[0])
            if self.device.type == "cuda" and rng[1]:
                torch.cuda.set_rng_state_all(rng[1])
        self._call("on_fit_start")
        bar = self._progress_bar()
        try:
            while self.epoch < self.n_epochs and not self.stop_training:
                self._run_epoch(bar)
        except KeyboardInterrupt:
            if not self._in_step and self.dist.rank == 0:
                for cb in self._checkpoints():
                    cb.save(self)
            raise
        finally:
            if bar is not None:
                bar.close()
            self.ddp = None  # the parts are used unwrapped (and without DDP's hooks) from now on
        self._call("on_fit_end")
        return self.history

    def _stacked_logs(self) -> dict[str, Tensor]:
        """This epoch's logged values so far, one float64 vector per key (in step order).

        New per-step values are converted once and folded into a cached vector, so
        reading it every few steps (the progress bar) stays cheap.
        """
        for k, vals in self._step_logs.items():
            if not vals:
                continue
            new = torch.stack(
                [
                    (v if isinstance(v, Tensor) else torch.tensor(float(v), dtype=torch.float64))
                    .to(self.device, torch.float64)
                    .reshape(())
                    for v in vals
                ]
            ).cpu()
            done = self._log_vectors.get(k)
            self._log_vectors[k] = new if done is None else torch.cat([done, new])
            vals.clear()
            self._folds += 1
        return dict(self._log_vectors)

    def _refresh_bar(self, bar: Any) -> None:
        """The epoch's running means on the progress bar (every 10 steps).

        On CPU they are read as they are. On a CUDA device reading them would make the
        host wait for the device, so the bar shows them one refresh late: each refresh
        adds the new step values on the device, queues the sums' copy to pinned host
        memory behind an event, and shows the previous refresh's sums once their event
        has completed (asked without waiting). The epoch's record is exact either way.
        """
        if self.device.type != "cuda":
            bar.set_postfix({k: f"{v:.4g}" for k, v in self._epoch_means().items()})
        else:
            self._refresh_bar_lagged(bar)

    def _refresh_bar_lagged(self, bar: Any) -> None:
        lag = self._bar_state
        if lag.get("epoch") != self.epoch or lag.get("folds") != self._folds:
            # a new epoch, or the step values moved to the host vectors (a checkpoint)
            lag.clear()
            lag.update(epoch=self.epoch, folds=self._folds, sums={}, upto={}, pending=None)
        pending = lag["pending"]
        if pending is not None and pending[0]():
            _, host, keys, on_host, n = pending
            means = {k: (v + h) / n for k, v, h in zip(keys, host.tolist(), on_host)}
            bar.set_postfix({k: f"{v:.4g}" for k, v in means.items()})
            pending = lag["pending"] = None
        if pending is not None:
            return
        sums, upto = lag["sums"], lag["upto"]
        for k, vals in self._step_logs.items():
            new = vals[upto.get(k, 0) :]
            if not new:
                continue
            part = torch.stack([self._log_on_device(v) for v in new]).sum()
            sums[k] = part if k not in sums else sums[k] + part
            upto[k] = len(vals)
        folded = self._log_vectors  # CPU vectors: their sums read nothing from the device
        keys = list(dict.fromkeys([*folded, *sums]))
        if not keys:
            return
        if sums:
            zero = torch.zeros((), dtype=torch.float64, device=self.device)
            host, ready = self._copy_to_host(torch.stack([sums.get(k, zero) for k in keys]))
        else:  # every value is on the host already (a checkpoint just moved them)
            host, ready = torch.zeros(len(keys), dtype=torch.float64), lambda: True
        on_host = [float(folded[k].sum()) if k in folded else 0.0 for k in keys]
        lag["pending"] = (ready, host, keys, on_host, max(self.step_in_epoch, 1))

    def _copy_to_host(self, values: Tensor) -> tuple[Tensor, Any]:
        """A copy of ``values`` on the host and a callable telling, without waiting,
        whether it has arrived: on CUDA a non-blocking copy to pinned memory behind an
        event; elsewhere a plain copy, there at once."""
        if self.device.type != "cuda":
            return values.cpu(), lambda: True
        host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
        host.copy_(values, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return host, event.query

    def _log_on_device(self, value: Any) -> Tensor:
        """A logged step value as a float64 scalar on the training device, without a sync."""
        if isinstance(value, Tensor):
            return value.to(self.device, torch.float64, non_blocking=True).reshape(())
        return torch.full((), float(value), dtype=torch.float64, device=self.device)

    def _epoch_means(self) -> dict[str, float]:
        """Mean of each logged value over the epoch's steps so far.

        Always one sum over the whole epoch's vector, so an epoch resumed from a
        checkpoint reports exactly what the uninterrupted epoch would have.
        """
        n = max(self.step_in_epoch, 1)
        return {k: float(v.sum()) / n for k, v in self._stacked_logs().items()}

    def _raise_if_diverged(self, error: Exception) -> None:
        """Name a divergence when a step failed after the parameters stopped being finite.

        An earlier step's non-finite update makes the next step's inputs to a loss (an MMD's
        features, say) non-finite, and that loss's input check is what fails; the user
        should read that training diverged, at which step, and what to change, rather than
        the op's message. Checked only once a step has raised (no cost per step).
        """
        with torch.no_grad():
            bad = [n for n, p in self.parts.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise FloatingPointError(
                f"{self.config.name}: training diverged before step {self.step + 1} (epoch "
                f"{self.epoch + 1}): parameters {shown} are no longer finite, so the step "
                "failed on its inputs; lower lr (or the adaptation's trade_off), or enable "
                "max_grad_norm."
            ) from error

    def _run_epoch(self, bar: Any) -> None:
        skip = self.step_in_epoch
        if skip == 0:
            self._epoch_start_plan = self.plan.state_dict()
            self._step_logs, self._log_vectors = {}, {}
        t0 = time.perf_counter()
        parts, hooks, state = self.parts, self.hooks, self.state
        parts.train()
        if hooks.on_epoch_start is not None:
            hooks.on_epoch_start(parts, state)
            parts.train()
        if self.data_parallel == "ddp":
            self._wrap_parts()
        for batch in epoch_batches(
            self.plan,
            self.source,
            self.target,
            self.n_classes,
            self.config.num_workers,
            skip=skip,
            target_cycle=self.target_cycle,
        ):
            batch = batch.to(self.device, non_blocking=True)
            self._set_lr()
            self._in_step = True
            with self.autocast():
                try:
                    logs = hooks.run_step(parts, batch, state, forward=self.ddp)
                except (ValueError, RuntimeError) as error:
                    self._raise_if_diverged(error)
                    raise
            if self.reversal is not None:
                self.reversal.step()
            self.step += 1
            self.step_in_epoch += 1
            self._in_step = False
            for k, v in logs.items():
                self._step_logs.setdefault(k, []).append(v.detach() if isinstance(v, Tensor) else v)
            self._call("on_step_end", logs)
            if bar is not None:
                bar.update(1)
                if self.step % 10 == 0 or self.step_in_epoch == self.steps_per_epoch:
                    self._refresh_bar(bar)
        record: dict[str, float] = {"epoch": self.epoch + 1, "step": self.step}
        means = self._epoch_means()
        if self.dist.world_size > 1:
            means = self.dist.mean_of(means)
            self.dist.average_batch_norm_statistics(parts)
        record.update(means)
        record["lr"] = self.current_lr
        record["time"] = time.perf_counter() - t0
        if any(not math.isfinite(v) for v in means.values()):
            raise FloatingPointError(
                f"{self.config.name}: training diverged at epoch {self.epoch + 1} "
                f"(losses {means}); lower lr or enable max_grad_norm."
            )
        self._call("on_epoch_end", record)
        self.history.append(record)
        self.epoch += 1
        self.step_in_epoch = 0
        self._step_logs, self._log_vectors = {}, {}
        self._epoch_start_plan = self.plan.state_dict()
        if self.dist.rank == 0:
            for cb in self._checkpoints():
                cb.on_epoch_saved(self)


def default_source_loss(logits: Tensor, batch: Batch) -> Tensor:
    """Importance-weighted cross-entropy on the source rows: :math:`\\frac1b\\sum_i w_i\\,\\ell_i`."""
    ce = F.cross_entropy(logits.float(), batch.source_y, reduction="none")
    if batch.source_weight is not None:
        ce = ce * batch.source_weight
    return ce.mean()
