"""Fine-tune on cail2018: `python examples/run_cail2018.py --data-dir D --model chinese-electra-small`."""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("cail2018"))
