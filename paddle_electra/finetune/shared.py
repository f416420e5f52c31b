"""What every fine-tuning task shares: the seed's loop with the best dev model kept, the splits to score, the report."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ConfigError, DataError
from ..training.loop import FineTuner, is_main_process
from .settings import FinetuneSettings, loop_config

log = logging.getLogger("paddle_electra.finetune")


def train_and_report(model, out: Path, settings: FinetuneSettings, splits: list[str], score, line_for,
                     training: tuple | None) -> dict[str, dict[str, float]]:
    """The part every task shares: train with the seed's loop (keeping the best dev model), then score each
    split and report it as the seed does (``results.txt``, one line per split).

    When the best model is the one evaluated last (this process), its dev metrics (and the files that evaluation
    wrote, such as QA predictions) are reported as they are instead of scoring dev a second time: evaluation is
    deterministic, and on CMRC 2018's dev it is the costliest part of a run."""
    last: dict[str, object] = {}
    if training is not None:
        batches_for_epoch, loss_fn, save = training

        def evaluate(model_):
            last.clear()
            last.update(step=tuner.state.global_step, metrics=score("dev"))
            return dict(last["metrics"])

        tuner = FineTuner(model, model.electra.config.num_hidden_layers, out, loop_config(settings),
                          batches_for_epoch, loss_fn, evaluate if "dev" in splits else None, save)
        tuner.train(resume=settings.resume)
        if not is_main_process():  # rank 0 evaluates and reports for a multi-GPU run
            return {}
        tuner.restore_best()
        if last.get("step") != tuner.state.best_step:
            last.clear()
    results = {}
    for split in splits:
        metrics = dict(last["metrics"]) if split == "dev" and last else score(split)
        metrics.pop("score")
        results[split] = metrics
        line = line_for(metrics)
        print(f"{split}: {line}")
        with open(out / "results.txt", "a", encoding="utf-8") as handle:
            handle.write(f"{split}: {line}\n")
    return results


def eval_splits(spec, data_dir, settings: FinetuneSettings) -> list[str]:
    """dev and/or eval as asked; a missing eval file is skipped with a warning (many users have no test set)."""
    from ..tasks import find_split_file

    splits = ["dev"] if settings.do_eval else []
    if settings.do_test:
        try:
            find_split_file(spec, data_dir, "eval")
            splits.append("eval")
        except DataError:
            log.warning("%s: no eval/test file in %s; skipping test-set evaluation", spec.name, data_dir)
    return splits


def init_head(model, settings: FinetuneSettings) -> None:
    """Set the task head from ``head_init`` (every head tensor, exact shapes), so two frameworks start equal."""
    if settings.head_init is None:
        return
    import numpy as np

    from ..checkpoint.pdparams import load_pdparams

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


def scoring_runtime(model, settings: FinetuneSettings, **options):
    """The exported runtime dev/test scoring runs through (``fast_eval``, CPU only: eager scoring on a GPU is
    already fast), re-exported whenever the weights changed; None for eager scoring. ``options``: those of
    :class:`~..inference.fast.ModelExport` (the QA beam's ``all_outputs``/``static_length``)."""
    import paddle

    if not settings.fast_eval or paddle.get_device() != "cpu":
        return None
    from ..inference.fast import ModelExport

    return ModelExport(model, cache=False, route=False, **options)


def scoring_predictor(exporter):
    """The exporter's predictor for the current weights, or None (eager scoring, one warning) if it fails."""
    from ..inference.fast import fast_or_none

    return fast_or_none(exporter.predictor, "dev/test scoring", "evaluating with eager Paddle")
