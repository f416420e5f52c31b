"""The fine-tuning loop: the seed's optimizer, resumable checkpoints, best-dev model, curves, AMP, accumulation.

Why a small loop of our own rather than PaddleNLP's Trainer: the seed's optimizer (no bias correction,
layerwise rates) is not a Paddle optimizer, and exact resume needs the data order and dropout RNG tied to the
global step. Checkpoints are written to a temporary directory, checksummed and renamed, so a kill -9 during
a write leaves the previous checkpoint as the latest complete one.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paddle

from ..checkpoint.pdparams import load_pdparams, load_pickle_safely
from ..fs import atomic_dir, pause_point, sha256_file
from .optim import RecipeConfig, SeedAdamW

log = logging.getLogger("paddle_electra.training")

Batch = dict[str, np.ndarray]


@dataclass
class LoopConfig:
    epochs: float = 3.0
    seed: int = 42
    save_every_steps: int = 0  # 0: only at the end of each epoch
    keep_checkpoints: int = 2
    log_every_steps: int = 10
    grad_accumulation: int = 1
    amp: bool = False  # float16 autocast + dynamic loss scaling (GPU only)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    # "sum": loss_fn returns the batch SUM and a step's gradient is that of the sum over the whole (global) batch,
    # as the seed (``FinetuningModel.loss = reduce_sum(...)``); "mean": the gradient of the batch mean
    loss_reduction: str = "mean"
    # CPU float32: encoder layers on paddle_electra.ops' fused kernels (same maths, ~1.6x the step; own dropout
    # stream). Paddle's own ops where the kernels cannot be built.
    fused_kernels: bool = True
    # CPU: the fused kernels' GEMMs on bfloat16 copies of their operands, float32 accumulation, weights and
    # element-wise maths (1.4-1.5x the float32 step on AVX-512 BF16); refused where it cannot run
    bf16: bool = False


@dataclass
class TrainState:
    global_step: int = 0
    best_score: float | None = None
    best_step: int | None = None
    loss_scale: float = 2.0**15
    good_steps: int = 0


@contextlib.contextmanager
def frozen_gc() -> Any:
    """The objects alive before training (model, data, optimizer state) out of the cyclic GC's generations while
    the loop runs: rescanning them took ~2 % of a CPU step. Unfrozen afterwards; reference counting frees as ever."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def parallel_env() -> tuple[int, int]:
    """(rank, world size) under ``python -m paddle.distributed.launch``; (0, 1) in a plain process."""
    world = paddle.distributed.get_world_size()
    if world > 1 and not paddle.distributed.is_initialized():
        paddle.distributed.init_parallel_env()
    return paddle.distributed.get_rank(), world


def is_main_process() -> bool:
    """Rank 0 (or no launcher): the process that writes checkpoints, curves, results and prints metrics."""
    return paddle.distributed.get_rank() == 0


def _seal(directory: Path) -> None:
    """Write COMPLETE last: it lists a checksum for every file, so a half-written checkpoint is never trusted."""
    sums = {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file()}
    (directory / "COMPLETE").write_text(json.dumps(sums, indent=1))


def is_complete(directory: Path) -> bool:
    marker = directory / "COMPLETE"
    try:
        sums = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all((directory / n).is_file() and sha256_file(directory / n) == s for n, s in sums.items())


def _atomic_save_dir(target: Path, write: Callable[[Path], None]) -> None:
    """A sealed directory (COMPLETE checksums) renamed into place; a full disk leaves the previous one intact."""
    with atomic_dir(target, replace_own=True) as tmp:
        write(tmp)
        _seal(tmp)


class FineTuner:
    """Runs epochs of ``loss_fn(model, batch)`` with the seed's optimizer; evaluates and keeps the best model.

    ``batches_for_epoch(epoch)`` must be deterministic in ``epoch`` (resume relies on it). ``evaluate(model)``
    returns metrics including ``score`` (higher is better), used to keep ``best_model/``.

    Under ``paddle.distributed.launch`` with N processes each step takes N consecutive batches, rank r trains on
    the r-th (gradients averaged by ``paddle.DataParallel``): the batch size is per device and an epoch has
    1/N of the steps. Rank 0 alone evaluates and writes; the others wait for it at a barrier.
    """

    def __init__(self, model: paddle.nn.Layer, num_layers: int, out_dir: str | Path, config: LoopConfig,
                 batches_for_epoch: Callable[[int], Sequence[Batch]],
                 loss_fn: Callable[[paddle.nn.Layer, Batch], paddle.Tensor],
                 evaluate: Callable[[paddle.nn.Layer], dict[str, float]] | None = None,
                 save_model: Callable[[paddle.nn.Layer, Path], None] | None = None):
        self.model = model
        self.config = config
        self.out_dir = Path(out_dir)
        self.batches_for_epoch = batches_for_epoch
        self.loss_fn = loss_fn
        self.evaluate = evaluate
        self.save_model = save_model or (lambda m, d: paddle.save(m.state_dict(), str(d / "model_state.pdparams")))
        self.rank, self.world = parallel_env()
        from ..ops import fuse_for_training

        self.fused_layers = fuse_for_training(model, config.fused_kernels, config.amp, config.bf16)
        self.train_model = paddle.DataParallel(model) if self.world > 1 else model
        self.steps_per_epoch = len(batches_for_epoch(0)) // (config.grad_accumulation * self.world)
        if self.steps_per_epoch == 0:
            from ..errors import SettingError

            raise SettingError("no training batches: the training set is empty; check the train file")
        self.total_steps = int(self.steps_per_epoch * config.epochs)
        self.optimizer = SeedAdamW(model, config.recipe, self.total_steps, num_layers)
        self.state = TrainState()
        self.last_grad_norm: float | None = None  # global gradient norm of the last update, before clipping
        self._saved_step: int | None = None
        self.curve_path = self.out_dir / "curve.jsonl"

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_root(self) -> Path:
        return self.out_dir / "checkpoints"

    def _barrier(self) -> None:
        if self.world > 1:
            paddle.distributed.barrier()

    def save_checkpoint(self) -> Path:
        target = self.checkpoint_root / f"step-{self.state.global_step:08d}"
        self._saved_step = self.state.global_step
        if self.rank != 0:
            self._barrier()
            return target

        def write(tmp: Path) -> None:
            paddle.save(self.model.state_dict(), str(tmp / "model.pdparams"))
            pause_point("checkpoint-write")  # test hook: a kill -9 here leaves a half-written, unsealed checkpoint
            with open(tmp / "optimizer.pkl", "wb") as handle:
                pickle.dump(self.optimizer.state_dict(), handle, protocol=4)
            (tmp / "state.json").write_text(json.dumps(asdict(self.state)))
            self._write_extra_state(tmp)

        _atomic_save_dir(target, write)
        complete = sorted(p for p in self.checkpoint_root.glob("step-*") if p.is_dir())
        for old in complete[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.checkpoint_root.glob(".step-*.partial-*"):  # left by a run killed while writing
            if stale.parent / stale.name != target:
                shutil.rmtree(stale, ignore_errors=True)
        self._barrier()
        return target

    def _write_extra_state(self, directory: Path) -> None:
        """Subclasses add files to a checkpoint here (sealed with the rest)."""

    def _read_extra_state(self, directory: Path) -> None:
        """Subclasses read back what ``_write_extra_state`` wrote (already verified by ``is_complete``)."""

    def save_if_unsaved(self) -> Path | None:
        """Checkpoint the current step unless it was just checkpointed (or resumed from)."""
        return None if self._saved_step == self.state.global_step else self.save_checkpoint()

    def latest_checkpoint(self) -> Path | None:
        if not self.checkpoint_root.is_dir():
            return None
        for candidate in sorted(self.checkpoint_root.glob("step-*"), reverse=True):
            if is_complete(candidate):
                return candidate
            log.warning("ignoring incomplete checkpoint %s (interrupted while writing)", candidate)
        return None

    def resume(self) -> bool:
        checkpoint = self.latest_checkpoint()
        if checkpoint is None:
            return False
        self.model.set_state_dict(load_pdparams(checkpoint / "model.pdparams", "checkpoint"))
        self.optimizer.set_state_dict(load_pickle_safely(checkpoint / "optimizer.pkl", "checkpoint"))
        self.state = TrainState(**json.loads((checkpoint / "state.json").read_text()))
        self._read_extra_state(checkpoint)
        self._saved_step = self.state.global_step
        log.info("resumed from %s (step %d of %d)", checkpoint, self.state.global_step, self.total_steps)
        return True

    # ------------------------------------------------------------------ training
    def _record(self, **entry: Any) -> None:
        if self.rank != 0:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.curve_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _train_step(self, micro_batches: Sequence[Batch]) -> float:
        self.model.train()
        paddle.seed(self.config.seed * 7919 + self.state.global_step)  # dropout masks reproducible on resume
        total = 0.0
        scale = self.state.loss_scale if self.config.amp else 1.0
        for index, batch in enumerate(micro_batches):
            # gradients are all-reduced once, on the last micro-batch of the step
            last = index == len(micro_batches) - 1
            sync = contextlib.nullcontext() if self.world == 1 or last else self.train_model.no_sync()
            with sync:
                with paddle.amp.auto_cast(enable=self.config.amp, level="O1", dtype="float16"):
                    # sum: ranks' gradients are averaged by DataParallel, so x world restores the global sum
                    share = self.world if self.config.loss_reduction == "sum" else 1.0 / len(micro_batches)
                    loss = self.loss_fn(self.train_model, batch) * share
                (loss * scale if self.config.amp else loss).backward()
            total += float(loss)
        if not self.config.amp and not math.isfinite(total):
            from ..errors import ConfigError

            raise ConfigError(f"the training loss became {total} at step {self.state.global_step + 1}; the run stopped "
                              "before the weights were corrupted (the last checkpoint is intact) — lower the "
                              "learning rate, or check the data and the model for NaN/Inf")
        norm = self.optimizer.step(grad_scale=scale)
        self.optimizer.clear_grad()
        if self.config.amp:
            self._update_loss_scale(np.isfinite(norm))
        self.last_grad_norm = float(norm)  # before clipping, for curve.jsonl
        return total

    def _update_loss_scale(self, finite: bool) -> None:
        if not finite:
            self.state.loss_scale = max(1.0, self.state.loss_scale / 2)
            self.state.good_steps = 0
            log.info("fp16 overflow: step skipped, loss scale -> %g", self.state.loss_scale)
        else:
            self.state.good_steps += 1
            if self.state.good_steps % 1000 == 0:
                self.state.loss_scale *= 2

    def _end_of_epoch(self, epoch: int) -> None:
        if self.rank != 0:
            return
        metrics = self.evaluate(self.model) if self.evaluate else {}
        self._record(step=self.state.global_step, epoch=epoch + 1, **{f"dev_{k}": v for k, v in metrics.items()})
        score = metrics.get("score")
        if score is not None and (self.state.best_score is None or score > self.state.best_score):
            self.state.best_score, self.state.best_step = score, self.state.global_step
            _atomic_save_dir(self.out_dir / "best_model", lambda d: self.save_model(self.model, d))
            log.info("new best dev score %.4f at step %d", score, self.state.global_step)

    def restore_best(self) -> None:
        """Put ``best_model/``'s weights into the model; without a dev set the final model becomes the best."""
        best = self.out_dir / "best_model"
        if best.is_dir():
            self.model.set_state_dict(load_pdparams(best / "model_state.pdparams", "best model"))
        else:
            _atomic_save_dir(best, lambda d: self.save_model(self.model, d))

    def train(self, resume: bool = True, stop_after_steps: int | None = None) -> TrainState:
        """Train to the end (or ``stop_after_steps`` more steps, for tests); resumes from the last checkpoint."""
        from tqdm import tqdm

        if resume:
            self.resume()
        per_step = self.config.grad_accumulation * self.world
        progress = tqdm(total=self.total_steps, initial=self.state.global_step, desc="fine-tuning",
                        unit="step", disable=None if self.rank == 0 else True, dynamic_ncols=True)
        with frozen_gc():
            started, steps_run = time.time(), 0
            while self.state.global_step < self.total_steps:
                epoch, offset = divmod(self.state.global_step, self.steps_per_epoch)
                batches = self.batches_for_epoch(epoch)
                for step_in_epoch in range(offset, self.steps_per_epoch):
                    if self.state.global_step >= self.total_steps:
                        break
                    group = batches[step_in_epoch * per_step:(step_in_epoch + 1) * per_step][self.rank::self.world]
                    lr = self.optimizer.get_lr()
                    loss = self._train_step(group)
                    self.state.global_step += 1
                    pause_point("train-step")
                    steps_run += 1
                    progress.update(1)
                    progress.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
                    if self.state.global_step % self.config.log_every_steps == 0 or self.state.global_step == 1:
                        self._record(step=self.state.global_step, loss=loss, lr=lr, grad_norm=self.last_grad_norm,
                                     elapsed_s=round(time.time() - started, 2))
                    if self.config.save_every_steps and self.state.global_step % self.config.save_every_steps == 0:
                        self.save_checkpoint()
                    if stop_after_steps is not None and steps_run >= stop_after_steps:
                        progress.close()
                        return self.state
                if self.state.global_step % self.steps_per_epoch == 0 or self.state.global_step >= self.total_steps:
                    self._end_of_epoch(epoch)
                    self.save_if_unsaved()  # unless save_every_steps just did
            progress.close()
            return self.state
