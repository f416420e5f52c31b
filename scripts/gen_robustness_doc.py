"""Regenerate docs/robustness.md: run tests/robustness/ with ROBUSTNESS_DOC=1 (the suite writes the table).

    .venv/bin/python scripts/gen_robustness_doc.py [extra pytest args]

The document is only written when every robustness test passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    env = {**os.environ, "ROBUSTNESS_DOC": "1", "GLOG_minloglevel": "2"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/robustness", *argv]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
