"""Checkpointing for the :class:`~domainadapt.training.Trainer`: its full state as a dict.

A mixin kept apart from the training loop (``engine.py``): everything needed to stop
a run and resume it bitwise, as tensors and plain containers (``weights_only``-safe).
"""

from __future__ import annotations

from typing import Any

import torch

#: Version of the checkpoint layout written by ``Trainer.state_dict``.
CHECKPOINT_FORMAT = 1


class TrainerStateMixin:
    """``state_dict`` / ``load_state_dict`` of the Trainer (attributes set by it)."""

    def parts_state_dict(self) -> dict[str, Any]:
        return {k: v.state_dict() for k, v in self.parts.items()}

    def load_parts_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in self.parts.items():
            v.load_state_dict(state[k])

    def _meta(self) -> dict[str, Any]:
        return {
            "adapter": self.config.name,
            "max_steps": int(self.max_steps),
            "steps_per_epoch": int(self.steps_per_epoch),
            "n_epochs": int(self.n_epochs),
            "world_size": int(self.dist.world_size),
        }

    def state_dict(self) -> dict[str, Any]:
        """The full training state, as tensors and plain containers (``weights_only``-safe)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "meta": self._meta(),
            "parts": self.parts_state_dict(),
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "reversal": self.reversal.state_dict() if self.reversal is not None else {},
            "epoch": int(self.epoch),
            "step": int(self.step),
            "step_in_epoch": int(self.step_in_epoch),
            "plan": self._epoch_start_plan,
            "method_generator": self.method_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "history": [dict(r) for r in self.history],
            "running": self._stacked_logs(),
            "callbacks": [
                cb.state_dict() if hasattr(cb, "state_dict") else {} for cb in self.callbacks
            ],
            "stop_training": bool(self.stop_training),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"unknown checkpoint format {state.get('format')!r}.")
        meta, mine = state["meta"], self._meta()
        for key in ("adapter", "max_steps", "steps_per_epoch", "world_size"):
            if meta[key] != mine[key]:
                raise ValueError(
                    f"the checkpoint does not match this run: {key} is {meta[key]!r} there and "
                    f"{mine[key]!r} here (same adapter, n_epochs, batch size and data needed)."
                )
        self.load_parts_state_dict(state["parts"])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        if self.reversal is not None and state["reversal"]:
            self.reversal.load_state_dict(state["reversal"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self._epoch_start_plan = state["plan"]
        self.plan.load_state_dict(state["plan"])
        self.method_generator.set_state(state["method_generator"])
        self.history = [dict(r) for r in state["history"]]
        self._step_logs = {}
        self._log_vectors = {
            k: torch.as_tensor(v, dtype=torch.float64).cpu() for k, v in state["running"].items()
        }
        for cb, cs in zip(self.callbacks, state["callbacks"]):
            if hasattr(cb, "load_state_dict"):
                cb.load_state_dict(cs)
        self.stop_training = bool(state["stop_training"])
        self._resume_rng = (state["torch_rng"], state["cuda_rng"])
