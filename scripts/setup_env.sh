#!/usr/bin/env bash
# Create .venv and install paddle-electra with the pinned set (constraints.txt). Idempotent: skips the
# install when setup.py and constraints.txt are unchanged since the last successful run.
# Usage: bash scripts/setup_env.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA="${1:-}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.paddle-electra-${EXTRA:-base}.stamp"
want="$(cat setup.py constraints.txt | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
spec="."
[ -n "$EXTRA" ] && spec=".[$EXTRA]"
log=".venv/pip-install.log"
if ! .venv/bin/python -m pip install -q -c constraints.txt -e "$spec" >"$log" 2>&1; then
  grep -v "is ignored: it is neither" "$log" | tail -30 >&2
  echo "setup failed: pip install -e '$spec' (full log: $log)" >&2
  exit 1
fi
(cd / && "$OLDPWD/.venv/bin/python" -c "import paddle, paddlenlp, paddlehub, paddle_electra") 2>/dev/null \
  || { echo "setup failed: paddle/paddlenlp/paddlehub do not import; see constraints.txt" >&2; exit 1; }
echo "$want" > "$stamp"
