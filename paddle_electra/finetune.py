"""Fine-tune and evaluate on the seed's tasks with the seed's recipe; entry points call ``run_finetuning``.

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

import numpy as np

from .catalog import match_sizes
from .errors import ConfigError, DataError, StoreError
from .metrics.classification import accuracy, format_metrics
from .modeling.config import read_config_json, sizes_from_dict
from .perf import select_device
from .store import CONFIG_FILE, resolve
from .tasks import get_task, load_split
from .training.features import encode_classification, eval_batches, pad_batch, train_batches
from .training.loop import FineTuner, LoopConfig, is_main_process
from .training.optim import RecipeConfig

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
              "loss_reduction", "seed_schedule", "shuffle", "dropout", "head_init"}


@dataclass
class FinetuneSettings:
    task: str
    learning_rate: float
    layerwise_lr_decay: float
    num_train_epochs: float
    max_seq_length: int
    train_batch_size: int = 32
    eval_batch_size: int = 32
    warmup_proportion: float = 0.1
    weight_decay_rate: float = 0.01
    max_query_length: int = 64
    doc_stride: int = 128
    n_best_size: int = 20
    max_answer_length: int = 30
    beam_size: int = 20
    answerable_weight: float = 0.5
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
    "shuffle": ("bool", None, None, False),
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




def _classifier(model_dir: Path, num_labels: int, head: str, overrides: dict[str, Any] | None = None):
    from .modeling.heads import ElectraForSeedClassification

    if head == "paddlenlp":
        from paddlenlp.transformers import ElectraForSequenceClassification as cls
    else:
        cls = ElectraForSeedClassification
    from .modeling.load import from_pretrained_checked

    return from_pretrained_checked(cls, model_dir, num_labels=num_labels, **(overrides or {}))


def _save_model_dir(model, tokenizer, labels: tuple[str, ...], settings: FinetuneSettings):
    def save(model_, directory: Path) -> None:
        from .store import stamp_model_dir

        model_.save_pretrained(str(directory))
        tokenizer.save_pretrained(str(directory))
        stamp_model_dir(directory, head="seq-cls", task=settings.task, model_head=settings.head,
                        num_labels=len(labels))
        (directory / "labels.json").write_text(json.dumps({"task": settings.task, "labels": list(labels),
                                                           "head": settings.head}, ensure_ascii=False))
    return save


def evaluate_classification(model, rows, batch_size: int) -> dict[str, float]:
    import paddle
    import paddle.nn.functional as F

    model.eval()
    preds = np.zeros(len(rows), dtype="int64")
    losses = np.zeros(len(rows), dtype="float64")
    with paddle.no_grad():
        for index, batch in eval_batches(rows, batch_size):
            logits = model(input_ids=paddle.to_tensor(batch["input_ids"]),
                           token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                           attention_mask=paddle.to_tensor(batch["attention_mask"]))
            logits = logits[0] if isinstance(logits, (tuple, list)) else logits
            labels = paddle.to_tensor(batch["labels"]).reshape([-1, 1])
            losses[index] = F.cross_entropy(logits, labels, reduction="none").numpy().reshape(-1)
            preds[index] = logits.argmax(-1).numpy()
    gold = np.array([r.label for r in rows])
    acc = accuracy(preds, gold)
    return {"accuracy": acc, "loss": float(losses.mean()), "score": acc}


def run_finetuning(task: str | Any, data_dir: str | Path, model: str | Path, output_dir: str | Path | None = None,
                   hparams: Any = None, **overrides: Any) -> dict[str, dict[str, float]]:
    """Train (with resume), keep the best dev model, then report dev/eval metrics in the seed's format."""
    model_dir = resolve(model)
    settings = build_settings(task, model_dir, hparams, **overrides)
    positions = int(read_config_json(model_dir / CONFIG_FILE).get("max_position_embeddings", 512))
    if settings.max_seq_length > positions:  # longer ids would index past the position table
        log.warning("max_seq_length %d > the model's %d positions; using %d", settings.max_seq_length, positions,
                    positions)
        settings.max_seq_length = positions
    spec = get_task(task)  # the object: a custom task carries its column names
    check_model_for(model_dir, settings.do_train)
    out = Path(output_dir or Path("runs") / f"{spec.name}-{model_dir.name}")
    created = not out.exists()
    if settings.do_train:
        from .fs import refuse_protected

        refuse_protected(out, [model_dir, data_dir])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the run directory {out}: {err.strerror}; choose another --output") from None
    try:
        if not settings.do_train:
            return _run(spec, data_dir, model_dir, out, settings)
        from .fs import locked
        from .training.run_identity import check_run_dir, claim_run_dir

        identity = run_identity(spec, data_dir, model_dir, settings)
        check_run_dir(out, identity, settings.resume)  # before the lock file: a user's directory gets nothing
        with locked(out, "a fine-tuning run"):
            claim_run_dir(out, identity, settings.resume)
            return _run(spec, data_dir, model_dir, out, settings)
    except BaseException:
        from .training.run_identity import BOOKKEEPING

        if created and out.is_dir() and all(p.name in BOOKKEEPING for p in out.iterdir()):
            import shutil  # a run that failed before training leaves no run directory behind

            shutil.rmtree(out, ignore_errors=True)
        raise


def check_model_for(model_dir: Path, training: bool) -> None:
    """Refuse a generator for fine-tuning and an un-fine-tuned model for evaluation (both give meaningless numbers)."""
    from .modeling.load import stored_head
    from .store import read_meta

    head = stored_head(model_dir)
    if training and (head == "generator" or read_meta(model_dir).get("role") == "generator"):
        companion = model_dir.name.removesuffix("-generator")
        raise ConfigError(f"{model_dir} is an ELECTRA generator; the seed fine-tunes the discriminator — pass "
                          f"--model {companion if companion != model_dir.name else 'DIR/discriminator'}")
    if not training and head in ("discriminator", "generator", "model"):
        raise ConfigError(f"{model_dir} is a pretrained {head} that was never fine-tuned, so its scores would be "
                          "chance; fine-tune it first (`paddle-electra finetune`) and evaluate the run's best_model/")


def run_identity(spec, data_dir: str | Path, model_dir: Path, settings: FinetuneSettings) -> dict[str, Any]:
    """What a run in an output directory was made from: resume only when all of it is the same."""
    from dataclasses import asdict

    from .fs import sha256_file
    from .store import WEIGHTS_FILE
    from .tasks import find_split_file

    data = {}
    for split in ("train", "dev", "eval"):
        try:
            path = find_split_file(spec, data_dir, split)
        except DataError:
            continue
        data[split] = sha256_file(path)
    skip = {"do_eval", "do_test", "resume", "log_every_steps", "device", "extra", "eval_batch_size"}
    return {"task": spec.name, "model": sha256_file(model_dir / WEIGHTS_FILE), "model_dir": str(model_dir),
            "data": data, "hparams": {k: v for k, v in asdict(settings).items() if k not in skip}}


def _run(spec, data_dir, model_dir: Path, out: Path, settings: FinetuneSettings) -> dict[str, dict[str, float]]:
    device = select_device(settings.device, settings.amp)
    log.info("%s on %s (%s): lr %g, layerwise decay %g, %g epochs, batch %d, max_seq_length %d -> %s",
             spec.name, model_dir.name, device, settings.learning_rate, settings.layerwise_lr_decay,
             settings.num_train_epochs, settings.train_batch_size, settings.max_seq_length, out)
    if spec.kind == "qa":
        from .finetune_qa import run_qa

        return run_qa(spec, data_dir, model_dir, out, settings)
    if spec.kind == "token-cls":
        from .finetune_ner import run_ner

        return run_ner(spec, data_dir, model_dir, out, settings)
    return _run_classification(spec, data_dir, model_dir, out, settings)


def _run_classification(spec, data_dir, model_dir: Path, out: Path, settings: FinetuneSettings):
    import paddle

    from .tokenizer import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    labels_path = out / "task_labels.json"
    train = load_split(spec, data_dir, "train", labels_path=labels_path) if settings.do_train else None
    labels = train.labels if train else load_split(spec, data_dir, "dev", labels_path=labels_path).labels
    eval_rows = {
        split: encode_classification(load_split(spec, data_dir, split, labels_path=labels_path).examples,
                                     tokenizer, labels, settings.max_seq_length)
        for split in eval_splits(spec, data_dir, settings)
    }
    paddle.seed(settings.seed)
    model = _classifier(model_dir, len(labels), settings.head, model_overrides(settings))
    init_head(model, settings)
    save = _save_model_dir(model, tokenizer, labels, settings)
    if train is not None:
        rows = encode_classification(train.examples, tokenizer, labels, settings.max_seq_length)
        cache: dict[int, list] = {}

        def batches_for_epoch(epoch: int):
            if epoch not in cache:
                cache.clear()
                cache[epoch] = [pad_batch([rows[i] for i in idx])
                                for idx in train_batches(rows, settings.train_batch_size, epoch, settings.seed,
                                                         shuffle=settings.shuffle)]
            return cache[epoch]

        def loss_fn(model_, batch):
            logits = model_(input_ids=paddle.to_tensor(batch["input_ids"]),
                            token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                            attention_mask=paddle.to_tensor(batch["attention_mask"]))
            logits = logits[0] if isinstance(logits, (tuple, list)) else logits
            return paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(batch["labels"]).reshape([-1, 1]),
                                                      reduction=settings.loss_reduction)

    def score(split: str) -> dict[str, float]:
        return evaluate_classification(model, eval_rows[split], settings.eval_batch_size)

    return train_and_report(model, out, settings, list(eval_rows), score,
                            lambda metrics: format_metrics(spec.name, metrics),
                            (batches_for_epoch, loss_fn, save) if train is not None else None)


def train_and_report(model, out: Path, settings: FinetuneSettings, splits: list[str], score, line_for,
                     training: tuple | None) -> dict[str, dict[str, float]]:
    """The part every task shares: train with the seed's loop (keeping the best dev model), then score each
    split and report it as the seed does (``results.txt``, one line per split)."""
    if training is not None:
        batches_for_epoch, loss_fn, save = training
        tuner = FineTuner(model, model.electra.config.num_hidden_layers, out, _loop_config(settings),
                          batches_for_epoch, loss_fn, (lambda m: score("dev")) if "dev" in splits else None, save)
        tuner.train(resume=settings.resume)
        if not is_main_process():  # rank 0 evaluates and reports for a multi-GPU run
            return {}
        tuner.restore_best()
    results = {}
    for split in splits:
        metrics = score(split)
        metrics.pop("score")
        results[split] = metrics
        line = line_for(metrics)
        print(f"{split}: {line}")
        with open(out / "results.txt", "a", encoding="utf-8") as handle:
            handle.write(f"{split}: {line}\n")
    return results


def eval_splits(spec, data_dir, settings: FinetuneSettings) -> list[str]:
    """dev and/or eval as asked; a missing eval file is skipped with a warning (many users have no test set)."""
    from .tasks import find_split_file

    splits = ["dev"] if settings.do_eval else []
    if settings.do_test:
        try:
            find_split_file(spec, data_dir, "eval")
            splits.append("eval")
        except DataError:
            log.warning("%s: no eval/test file in %s; skipping test-set evaluation", spec.name, data_dir)
    return splits


def _loop_config(settings: FinetuneSettings) -> LoopConfig:
    recipe = RecipeConfig(learning_rate=settings.learning_rate, layerwise_lr_decay=settings.layerwise_lr_decay,
                          weight_decay=settings.weight_decay_rate, warmup_proportion=settings.warmup_proportion,
                          schedule=settings.seed_schedule)
    return LoopConfig(epochs=settings.num_train_epochs, seed=settings.seed, save_every_steps=settings.save_every_steps,
                      log_every_steps=settings.log_every_steps, grad_accumulation=settings.grad_accumulation,
                      amp=settings.amp, recipe=recipe, loss_reduction=settings.loss_reduction)


def model_overrides(settings: FinetuneSettings) -> dict[str, Any]:
    """Config overrides for building the model (dropout for deterministic runs)."""
    if settings.dropout is None:
        return {}
    return {"hidden_dropout_prob": float(settings.dropout), "attention_probs_dropout_prob": float(settings.dropout)}


def init_head(model, settings: FinetuneSettings) -> None:
    """Set the task head from ``head_init`` (every head tensor, exact shapes), so two frameworks start equal."""
    if settings.head_init is None:
        return
    import numpy as np

    from .checkpoint.pdparams import load_pdparams

    path = Path(str(settings.head_init))
    given = dict(np.load(path)) if path.suffix == ".npz" else load_pdparams(path, "head")
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("electra.")}
    missing = [k for k in own if k not in given]
    if missing:
        raise ConfigError(f"{path}: lacks head tensor(s) {', '.join(missing[:3])}; it holds {sorted(given)[:5]}")
    for key, param in own.items():
        if tuple(given[key].shape) != tuple(param.shape):
            raise ConfigError(f"{path}: {key} has shape {list(given[key].shape)}, the head needs {list(param.shape)}")
        param.set_value(np.asarray(given[key], dtype="float32"))
    log.info("task head initialised from %s (%d tensors)", path, len(own))


def _seed_model_dir(data_dir: Path, model_name: str) -> Path:
    """The seed keeps models in ``D/models/NAME``; a TF checkpoint found there is converted once, beside it."""
    seed_dir = data_dir / "models" / model_name
    if seed_dir.is_dir():
        from .store import is_model_dir

        if is_model_dir(seed_dir):
            return seed_dir
        converted = seed_dir / "paddle" / "discriminator"
        if is_model_dir(converted):
            return converted
        if any(seed_dir.glob("*.index")):
            from .convert.tf import convert_tf_checkpoint

            log.info("converting the TF checkpoint in %s for Paddle (once)", seed_dir)
            return convert_tf_checkpoint(seed_dir, output=seed_dir / "paddle")["discriminator"]
    return resolve(model_name)


def run_seed_style(data_dir: str | Path, model_name: str, hparams: Any) -> dict[str, dict]:
    """``run_finetuning.py --data-dir D --model-name NAME --hparams JSON`` with the seed's file layout."""
    data_dir = Path(data_dir)
    params = parse_hparams(hparams)
    tasks = params.pop("task_names", None)
    if not tasks:
        raise ConfigError("hparams must name the task, e.g. '{\"task_names\": [\"chnsenticorp\"]}'")
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    model_dir = _seed_model_dir(data_dir, model_name)
    results_root = data_dir / "models" / model_name  # the seed's layout, used when it exists
    results: dict[str, dict] = {}
    trials = int(params.pop("num_trials", 1))
    for task in tasks:
        for trial in range(trials):
            run_dir = (data_dir / "models" / model_name / "finetuning_models" / f"{task}_model"
                       if results_root.is_dir() else Path("runs") / f"{task}-{model_dir.name}")
            if trials > 1:
                run_dir = run_dir.with_name(f"{run_dir.name}_{trial + 1}")
            seed = int(params.get("seed", 42)) + trial
            results[f"{task}_{trial + 1}"] = run_finetuning(task, data_dir, model_dir, run_dir,
                                                            {**params, "seed": seed})
    return results
