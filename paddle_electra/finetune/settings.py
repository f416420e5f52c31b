"""Fine-tuning settings: the seed's hparams (its keys and defaults per task and size), ours, validated up front.

Hyperparameters come, lowest priority first, from the task's seed defaults for the model size, then the
seed-style hparams (a JSON file or string with the seed's keys), then explicit overrides. Unknown keys are
refused with the list of known ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import match_sizes
from ..errors import ConfigError
from ..modeling.config import read_config_json, sizes_from_dict
from ..store import CONFIG_FILE
from ..tasks import get_task
from ..tasks.registry import QA_DEFAULTS, TaskDefaults
from ..training.loop import LoopConfig
from ..training.optim import RecipeConfig

log = logging.getLogger("paddle_electra.finetune")

# Every key of the seed's FinetuningConfig. Those marked None have no meaning here (TPU, tfrecords, paths)
# and are accepted with a log line so the seed's params_*.json files work unchanged.
SEED_KEYS: dict[str, str | None] = {
    "learning_rate": "learning_rate", "weight_decay_rate": "weight_decay_rate",
    "layerwise_lr_decay": "layerwise_lr_decay", "num_train_epochs": "num_train_epochs",
    "warmup_proportion": "warmup_proportion", "max_seq_length": "max_seq_length",
    "train_batch_size": "train_batch_size", "eval_batch_size": "eval_batch_size",
    "predict_batch_size": "eval_batch_size", "max_query_length": "max_query_length", "doc_stride": "doc_stride",
    "n_best_size": "n_best_size", "max_answer_length": "max_answer_length", "beam_size": "beam_size",
    "answerable_weight": "answerable_weight", "do_train": "do_train", "do_eval": "do_eval", "do_test": "do_test",
    "save_checkpoints_steps": "save_every_steps", "num_trials": "num_trials", "task_names": "task_names",
    "model_size": "model_size", "vocab_size": "vocab_size", "embedding_size": "embedding_size",
    "do_lower_case": None, "model_hparam_overrides": None, "debug": None, "log_examples": None,
    "keep_all_models": None, "iterations_per_loop": None, "use_tfrecords_if_existing": None,
    "write_test_outputs": None, "n_writes_test": None, "double_unordered": None, "answerable_classifier": None,
    "answerable_uses_start_logits": None, "joint_prediction": None, "qa_na_threshold": None, "use_tpu": None,
    "num_tpu_cores": None, "tpu_job_name": None, "tpu_name": None, "tpu_zone": None, "gcp_project": None,
    "model_name": None, "data_dir": None,
}
# Our additions, usable in the same JSON or as CLI flags.
EXTRA_KEYS = {"seed", "amp", "grad_accumulation", "head", "device", "output_dir", "resume", "log_every_steps",
              "loss_reduction", "seed_schedule", "shuffle", "dropout", "head_init", "fast_eval",
              "fused_kernels", "bf16"}


@dataclass
class FinetuneSettings:
    task: str
    learning_rate: float
    layerwise_lr_decay: float
    num_train_epochs: float
    max_seq_length: int
    # the seed's defaults come from the one table (tasks/registry.py); a task's own values override them
    train_batch_size: int = TaskDefaults.train_batch_size
    eval_batch_size: int = TaskDefaults.eval_batch_size
    warmup_proportion: float = TaskDefaults.warmup_proportion
    weight_decay_rate: float = TaskDefaults.weight_decay_rate
    max_query_length: int = QA_DEFAULTS.max_query_length
    doc_stride: int = QA_DEFAULTS.doc_stride
    n_best_size: int = QA_DEFAULTS.n_best_size
    max_answer_length: int = QA_DEFAULTS.max_answer_length
    beam_size: int = QA_DEFAULTS.beam_size
    answerable_weight: float = QA_DEFAULTS.answerable_weight
    do_train: bool = True
    do_eval: bool = True
    do_test: bool = True
    save_every_steps: int = 0
    num_trials: int = 1
    seed: int = 42
    amp: bool = False
    grad_accumulation: int = 1
    head: str = "seed"  # "seed" (the seed's heads) or "paddlenlp" (PaddleNLP's HF-style heads)
    device: str = "auto"
    resume: bool = True
    log_every_steps: int = 10
    # determinism and side-by-side runs against the seed's TensorFlow code (docs/results.md):
    loss_reduction: str = "sum"  # the seed sums the per-example losses over the batch; "mean" is the HF habit
    seed_schedule: str = "tpu"  # "gpu": the rate of update t+1, as the seed's TF1 CPU/GPU path applies it
    shuffle: bool = True  # False: batches in file order (every epoch)
    dropout: float | None = None  # overrides hidden and attention dropout (0.0 for deterministic runs)
    head_init: str | None = None  # .npz/.pdparams with the task head's initial tensors
    fast_eval: bool = True  # dev/test scoring through the exported runtime (eager if it cannot be used)
    fused_kernels: bool = True  # CPU training on paddle_electra.ops' fused kernels (Paddle's ops if unavailable)
    bf16: bool = False  # CPU: the fused kernels' GEMMs on bfloat16 operands (AVX-512 BF16), float32 elsewhere
    model_size: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_hparams(hparams: str | os.PathLike[str] | dict[str, Any] | None) -> dict[str, Any]:
    """A seed hparams JSON (file path or inline string) -> validated dict of our settings."""
    if hparams is None:
        return {}
    if isinstance(hparams, dict):
        raw = hparams
    else:
        text = str(hparams)
        source = text
        if not text.lstrip().startswith(("{", "[")):  # inline JSON, else a file name
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as err:
                raise ConfigError(
                    f"--hparams {source}: cannot read ({err.strerror}); pass a JSON file or string") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"--hparams {source}: invalid JSON at line {err.lineno} col {err.colno}: {err.msg}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"--hparams {source}: expected a JSON object of hyperparameters")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in EXTRA_KEYS:
            out[key] = value
        elif key in SEED_KEYS:
            target = SEED_KEYS[key]
            if target is None:
                log.info("hparam %s=%r has no effect in paddle-electra (TPU/tfrecord/path setting)", key, value)
            else:
                out[target] = value
        else:
            near = [k for k in list(SEED_KEYS) + sorted(EXTRA_KEYS) if k.split("_")[0] == key.split("_")[0]]
            raise ConfigError(f"unknown hparam {key!r}" + (f" (did you mean {', '.join(near[:3])}?)" if near else "")
                              + "; see `paddle-electra finetune --help` for the accepted keys")
    return out


def model_size_of(model_dir: Path) -> str:
    sizes = sizes_from_dict(read_config_json(model_dir / CONFIG_FILE), str(model_dir / CONFIG_FILE))
    matches = match_sizes(sizes)
    if matches:
        return matches[0].size
    guess = "small" if sizes.hidden_size <= 256 else "base" if sizes.hidden_size <= 768 else "large"
    log.warning("%s matches no HFL release; using the %s defaults (set model_size to change)", model_dir, guess)
    return guess


def build_settings(task: str, model_dir: Path, hparams: Any = None, **overrides: Any) -> FinetuneSettings:
    spec = get_task(task)
    given = {**parse_hparams(hparams), **{k: v for k, v in overrides.items() if v is not None}}
    size = given.pop("model_size", None) or model_size_of(model_dir)
    tasks = given.pop("task_names", None)
    if tasks is not None and [t.lower() for t in (tasks if isinstance(tasks, list) else [tasks])] != [spec.name]:
        raise ConfigError(f"hparams task_names {tasks!r} disagree with the task {spec.name!r}; "
                          "multi-task training is not supported — run one task at a time")
    for key in ("vocab_size", "embedding_size"):
        given.pop(key, None)  # read from the model directory, never from hparams
    defaults = spec.defaults.for_size(size)
    settings = FinetuneSettings(task=spec.name, model_size=size, **{
        k: v for k, v in defaults.items() if k in FinetuneSettings.__dataclass_fields__})
    for key, value in given.items():
        if key not in FinetuneSettings.__dataclass_fields__:
            raise ConfigError(f"setting {key!r} does not apply to fine-tuning")
        setattr(settings, key, value)
    validate_settings(settings)
    return settings


# (kind, lowest allowed, highest allowed, lowest is exclusive); kinds: "int", "float", "bool", or a choice tuple
_SCHEMA: dict[str, tuple[Any, float | None, float | None, bool]] = {
    "learning_rate": ("float", 0, None, True), "layerwise_lr_decay": ("float", 0, 1, True),
    "num_train_epochs": ("float", 0, None, True), "max_seq_length": ("int", 4, None, False),
    "train_batch_size": ("int", 1, None, False), "eval_batch_size": ("int", 1, None, False),
    "warmup_proportion": ("float", 0, 1, False), "weight_decay_rate": ("float", 0, None, False),
    "max_query_length": ("int", 1, None, False), "doc_stride": ("int", 1, None, False),
    "n_best_size": ("int", 1, None, False), "max_answer_length": ("int", 1, None, False),
    "beam_size": ("int", 1, None, False), "answerable_weight": ("float", 0, None, False),
    "do_train": ("bool", None, None, False), "do_eval": ("bool", None, None, False),
    "do_test": ("bool", None, None, False), "amp": ("bool", None, None, False), "resume": ("bool", None, None, False),
    "save_every_steps": ("int", 0, None, False), "num_trials": ("int", 1, None, False), "seed": ("int", 0, None, False),
    "grad_accumulation": ("int", 1, None, False), "log_every_steps": ("int", 1, None, False),
    "head": (("seed", "paddlenlp"), None, None, False), "device": (("auto", "cpu", "gpu"), None, None, False),
    "loss_reduction": (("sum", "mean"), None, None, False), "seed_schedule": (("tpu", "gpu"), None, None, False),
    "shuffle": ("bool", None, None, False), "fast_eval": ("bool", None, None, False),
    "fused_kernels": ("bool", None, None, False), "bf16": ("bool", None, None, False),
}


def validate_settings(settings: FinetuneSettings) -> None:
    """Every hyperparameter's type and range, up front: a string "3e-4", NaN, 0 or -1 never reaches training."""
    import math

    if settings.dropout is not None and (isinstance(settings.dropout, bool) or not isinstance(
            settings.dropout, (int, float)) or not 0 <= settings.dropout < 1):
        raise ConfigError(f"hparam dropout={settings.dropout!r} must be a number in [0, 1)")
    if settings.head_init is not None and not Path(str(settings.head_init)).is_file():
        raise ConfigError(f"hparam head_init={settings.head_init!r}: no such file; pass a .npz or .pdparams with "
                          "the head's tensors")

    for key, (kind, low, high, low_open) in _SCHEMA.items():
        value = getattr(settings, key)
        if isinstance(kind, tuple):
            if value not in kind:
                raise ConfigError(f"hparam {key}={value!r}: choose one of {', '.join(kind)}")
            continue
        ok_type = {"bool": isinstance(value, bool),
                   "int": isinstance(value, int) and not isinstance(value, bool),
                   "float": isinstance(value, (int, float)) and not isinstance(value, bool)}[kind]
        if not ok_type:
            article = "an" if kind == "int" else "a"
            raise ConfigError(f"hparam {key}={value!r} is a {type(value).__name__}; it must be {article} "
                              f"{kind} (write it without quotes in JSON, e.g. {key}: {_example(kind, low)})")
        if kind == "bool":
            continue
        if kind == "float" and not math.isfinite(value):
            raise ConfigError(f"hparam {key}={value!r} must be a finite number")
        below = value <= low if low_open else value < low
        if (low is not None and below) or (high is not None and value > high):
            bounds = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
            raise ConfigError(f"hparam {key}={value!r} is out of range; it must be {bounds}")


def _example(kind: str, low: float | None) -> str:
    return {"bool": "true", "int": str(int(low or 1)), "float": "0.0003"}[kind]


def loop_config(settings: FinetuneSettings) -> LoopConfig:
    recipe = RecipeConfig(learning_rate=settings.learning_rate, layerwise_lr_decay=settings.layerwise_lr_decay,
                          weight_decay=settings.weight_decay_rate, warmup_proportion=settings.warmup_proportion,
                          schedule=settings.seed_schedule)
    return LoopConfig(epochs=settings.num_train_epochs, seed=settings.seed, save_every_steps=settings.save_every_steps,
                      log_every_steps=settings.log_every_steps, grad_accumulation=settings.grad_accumulation,
                      amp=settings.amp, recipe=recipe, loss_reduction=settings.loss_reduction,
                      fused_kernels=settings.fused_kernels, bf16=settings.bf16)


def model_overrides(settings: FinetuneSettings) -> dict[str, Any]:
    """Config overrides for building the model (dropout for deterministic runs)."""
    if settings.dropout is None:
        return {}
    return {"hidden_dropout_prob": float(settings.dropout), "attention_probs_dropout_prob": float(settings.dropout)}
