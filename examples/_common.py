"""Shared by examples/run_<task>.py: one parser and one call, so each example is a single line of config."""

from __future__ import annotations

import argparse
import logging
import sys

from paddle_electra.cli import quiet_third_party
from paddle_electra.errors import ElectraError
from paddle_electra.finetune import run_finetuning
from paddle_electra.tasks import get_task


def main(task: str) -> int:
    spec = get_task(task)
    parser = argparse.ArgumentParser(description=f"Fine-tune Chinese ELECTRA on {spec.name} with the seed's recipe")
    parser.add_argument("--data-dir", required=True, help=f"directory with finetuning_data/{spec.name}/")
    parser.add_argument("--model", default="chinese-electra-small", help="store name or converted model directory")
    parser.add_argument("--output", help=f"run directory (default runs/{spec.name}-<model>)")
    parser.add_argument("--hparams", help="seed-style JSON overrides (file or inline)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--epochs", dest="num_train_epochs", type=float)
    parser.add_argument("--batch-size", dest="train_batch_size", type=int)
    parser.add_argument("--max-seq-length", type=int)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"])
    parser.add_argument("--amp", action="store_true", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("paddle_electra").setLevel(logging.INFO)
    quiet_third_party()
    overrides = {k: v for k, v in vars(args).items()
                 if k not in ("data_dir", "model", "output", "hparams") and v is not None}
    try:
        run_finetuning(spec.name, args.data_dir, args.model, args.output, args.hparams, **overrides)
    except ElectraError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
