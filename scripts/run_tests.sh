#!/usr/bin/env bash
# Set up (dev extra: torch CPU + transformers for parity tests) and run the test suite with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
export GLOG_minloglevel=2 PADDLE_ELECTRA_HOME="${PADDLE_ELECTRA_HOME:-$(mktemp -d)}"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
