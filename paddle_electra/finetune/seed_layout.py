"""The seed's own entry point: ``run_finetuning.py --data-dir D --model-name NAME --hparams JSON``, its layout."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store import resolve
from .run import run_finetuning
from .settings import parse_hparams

log = logging.getLogger("paddle_electra.finetune")


def _seed_model_dir(data_dir: Path, model_name: str) -> Path:
    """The seed keeps models in ``D/models/NAME``; a TF checkpoint found there is converted once, beside it."""
    seed_dir = data_dir / "models" / model_name
    if not seed_dir.is_dir():
        return resolve(model_name)
    from ..sources import identify, models_for
    from ..store import is_model_dir

    try:
        found = identify(seed_dir)
    except ConfigError:  # only the seed's outputs (finetuning_models/) live there: the model is in the store
        return resolve(model_name)
    converted = seed_dir / "paddle" / "discriminator"
    if found.kind == "tf-checkpoint":
        if is_model_dir(converted):  # converted on an earlier run
            return converted
        log.info("converting the TF checkpoint in %s for Paddle (once)", seed_dir)
    return models_for(seed_dir, seed_dir / "paddle", force=False)[0]


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
