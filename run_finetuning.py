"""Seed-compatible entry point: ``python run_finetuning.py --data-dir D --model-name NAME --hparams JSON``.

Same flags as ymcui/Chinese-ELECTRA's run_finetuning.py. ``--model-name`` is a store name, a converted model
directory, or (as in the seed's layout) ``D/models/NAME`` holding a converted model or an HFL TF checkpoint,
which is converted on first use (into ``D/models/NAME/paddle/``). Each run writes
``D/models/NAME/finetuning_models/<task>_model/`` (``results.txt``: one line per split, ``best_model/``) when
``D/models/NAME`` exists, else ``runs/<task>-<model>/``; ``num_trials`` > 1 appends ``_<trial>``.
"""

import argparse
import sys

from paddle_electra.cli import quiet_third_party
from paddle_electra.errors import ElectraError
from paddle_electra.finetune import run_seed_style


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="location of data files, models and results")
    parser.add_argument("--model-name", required=True, help="the name of the model being fine-tuned")
    parser.add_argument("--hparams", default="{}", help="JSON dict (inline or a file) of model hyperparameters")
    args = parser.parse_args()
    quiet_third_party()
    try:
        run_seed_style(args.data_dir, args.model_name, args.hparams)
    except ElectraError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
