"""Fine-tune on cmrc2018: `python examples/run_cmrc2018.py --data-dir D --model chinese-electra-small`."""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("cmrc2018"))
