"""Chinese ELECTRA (HFL) for PaddlePaddle: checkpoint conversion, PaddleNLP models, PaddleHub modules and
the seed's fine-tuning recipe."""

__version__ = "0.1.0"

from .catalog import CATALOG, get_variant  # noqa: E402,F401
from .errors import (  # noqa: E402,F401
    CheckpointError,
    ConfigError,
    ConversionError,
    DataError,
    ElectraError,
    StoreError,
)
