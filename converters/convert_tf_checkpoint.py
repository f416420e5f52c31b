"""``python converters/convert_tf_checkpoint.py --tf-checkpoint DIR|PREFIX --output OUT`` (or ``--name MODEL``).

Same as ``paddle-electra convert --tf-checkpoint …``: writes OUT/discriminator and OUT/generator.
"""

import sys

from paddle_electra.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
