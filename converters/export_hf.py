"""``python converters/export_hf.py NAME|DIR --output OUT``: a Paddle model to HF model.safetensors + config.json."""

import sys

from paddle_electra.cli import main

if __name__ == "__main__":
    sys.exit(main(["export-hf", *sys.argv[1:]]))
