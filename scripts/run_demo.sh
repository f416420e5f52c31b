#!/usr/bin/env bash
# Set up and run the main job: convert a checkpoint, fill-mask + replaced-token detection, install the
# PaddleHub module, fine-tune. No argument: the tiny checkpoint and data embedded in the package.
# Usage: bash scripts/run_demo.sh [TF_CHECKPOINT_DIR | HF_DIR | MODEL_DIR | STORE_NAME] [quickstart options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export GLOG_minloglevel=2
exec .venv/bin/paddle-electra quickstart "$@"
