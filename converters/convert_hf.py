"""``python converters/convert_hf.py --hf DIR --output OUT``: a Hugging Face ELECTRA model to Paddle.

Same as ``paddle-electra convert --hf …``.
"""

import sys

from paddle_electra.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
