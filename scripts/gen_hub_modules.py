#!/usr/bin/env python
"""Regenerate hub_modules/<dir>/ (one PaddleHub module per catalog release) from paddle_electra/catalog.py.

Usage: python scripts/gen_hub_modules.py [--check]
--check writes nothing and exits 1 if any file is missing or out of date (tests/test_hub.py runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paddle_electra.hub.generate import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    args = parser.parse_args(argv)
    changed = generate(ROOT / "hub_modules", check=args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    if args.check and changed:
        print("hub_modules/ is out of date: run `python scripts/gen_hub_modules.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
