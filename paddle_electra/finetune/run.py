"""``run_finetuning``: resolve the model, build the settings, guard the run directory, dispatch on the task kind."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, StoreError
from ..modeling.config import fit_length, read_config_json
from ..runtime import select_device
from ..store import CONFIG_FILE, resolve
from ..tasks import get_task
from .classification import run_classification
from .ner import run_ner
from .qa import run_qa
from .settings import FinetuneSettings, build_settings

log = logging.getLogger("paddle_electra.finetune")
# task kind -> the runner that trains and scores it (every runner reports through shared.train_and_report)
RUNNERS = {"classification": run_classification, "qa": run_qa, "token-cls": run_ner}


def run_finetuning(task: str | Any, data_dir: str | Path, model: str | Path, output_dir: str | Path | None = None,
                   hparams: Any = None, **overrides: Any) -> dict[str, dict[str, float]]:
    """Train (with resume), keep the best dev model, then report dev/eval metrics in the seed's format."""
    model_dir = resolve(model)
    settings = build_settings(task, model_dir, hparams, **overrides)
    positions = int(read_config_json(model_dir / CONFIG_FILE).get("max_position_embeddings", 512))
    settings.max_seq_length = fit_length(settings.max_seq_length, positions)
    spec = get_task(task)  # the object: a custom task carries its column names
    check_model_for(model_dir, settings.do_train)
    out = Path(output_dir or Path("runs") / f"{spec.name}-{model_dir.name}")
    created = not out.exists()
    if settings.do_train:
        from ..fs import refuse_protected

        refuse_protected(out, [model_dir, data_dir])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the run directory {out}: {err.strerror}; choose another --output") from None
    try:
        if not settings.do_train:
            return _run(spec, data_dir, model_dir, out, settings)
        from ..fs import locked
        from ..training.run_identity import check_run_dir, claim_run_dir

        identity = run_identity(spec, data_dir, model_dir, settings)
        check_run_dir(out, identity, settings.resume)  # before the lock file: a user's directory gets nothing
        with locked(out, "a fine-tuning run"):
            claim_run_dir(out, identity, settings.resume)
            return _run(spec, data_dir, model_dir, out, settings)
    except BaseException:
        from ..training.run_identity import BOOKKEEPING

        if created and out.is_dir() and all(p.name in BOOKKEEPING for p in out.iterdir()):
            import shutil  # a run that failed before training leaves no run directory behind

            shutil.rmtree(out, ignore_errors=True)
        raise


def check_model_for(model_dir: Path, training: bool) -> None:
    """Refuse a generator for fine-tuning and an un-fine-tuned model for evaluation (both give meaningless numbers)."""
    from ..catalog import companion_dir_name
    from ..modeling.load import stored_head
    from ..store import read_meta

    head = stored_head(model_dir)
    if training and (head == "generator" or read_meta(model_dir).get("role") == "generator"):
        companion = companion_dir_name(model_dir.name, "discriminator")
        raise ConfigError(f"{model_dir} is an ELECTRA generator; the seed fine-tunes the discriminator — pass "
                          f"--model {companion if companion != model_dir.name else 'DIR/discriminator'}")
    if not training and head in ("discriminator", "generator", "model"):
        raise ConfigError(f"{model_dir} is a pretrained {head} that was never fine-tuned, so its scores would be "
                          "chance; fine-tune it first (`paddle-electra finetune`) and evaluate the run's best_model/")


def run_identity(spec, data_dir: str | Path, model_dir: Path, settings: FinetuneSettings) -> dict[str, Any]:
    """What a run in an output directory was made from: resume only when all of it is the same."""
    from dataclasses import asdict

    from ..fs import sha256_file
    from ..store import WEIGHTS_FILE
    from ..tasks import find_split_file

    data = {}
    for split in ("train", "dev", "eval"):
        try:
            path = find_split_file(spec, data_dir, split)
        except DataError:
            continue
        data[split] = sha256_file(path)
    skip = {"do_eval", "do_test", "resume", "log_every_steps", "device", "extra", "eval_batch_size", "fast_eval",
            "fused_kernels"}
    return {"task": spec.name, "model": sha256_file(model_dir / WEIGHTS_FILE), "model_dir": str(model_dir),
            "data": data, "hparams": {k: v for k, v in asdict(settings).items() if k not in skip}}


def _run(spec, data_dir, model_dir: Path, out: Path, settings: FinetuneSettings) -> dict[str, dict[str, float]]:
    device = select_device(settings.device, settings.amp, settings.bf16)
    log.info("%s on %s (%s): lr %g, layerwise decay %g, %g epochs, batch %d, max_seq_length %d -> %s",
             spec.name, model_dir.name, device, settings.learning_rate, settings.layerwise_lr_decay,
             settings.num_train_epochs, settings.train_batch_size, settings.max_seq_length, out)
    return RUNNERS[spec.kind](spec, data_dir, model_dir, out, settings)
