"""Fine-tune on chnsenticorp: `python examples/run_chnsenticorp.py --data-dir D --model chinese-electra-small`."""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("chnsenticorp"))
