"""Typed errors: every message names the file or key at fault and says how to fix it.

The CLI prints ``str(err)`` as one line (no traceback unless ``--debug``), so messages must stand alone.
"""

from __future__ import annotations


class ElectraError(Exception):
    """Base class for every error this package raises on purpose."""


class CheckpointError(ElectraError):
    """A checkpoint file is missing, truncated, corrupt or of an unknown format."""


class ConversionError(ElectraError):
    """Tensors could not be mapped onto a model: unmapped keys, unfilled parameters, wrong shapes."""


class ConfigError(ElectraError):
    """A model name, config or size does not match what was asked for."""


class DataError(ElectraError):
    """A data file (tsv/json) is malformed; the message names the file and line."""


class StoreError(ElectraError):
    """The local model store or an output directory cannot be used as asked."""


class HubUsageError(ConfigError, RuntimeError):
    """A hub-module call the official PaddleHub module rejects with ``RuntimeError`` (unknown task, embeddings
    from a task module, malformed text-matching input): subclassing it keeps ``except RuntimeError:`` working."""


class SettingError(ConfigError, ValueError):
    """A setting out of range for the data at hand (a window too short for the question, an empty training
    set): one line on the CLI, and still a ``ValueError`` for library callers who catch that."""


class CompatError(ElectraError):
    """An installed Paddle / PaddleNLP / PaddleHub moved an internal this package relies on (see ``compat``)."""


class InputError(DataError, ValueError):
    """A library function got inputs it cannot use (predictions without ids, no examples to score): one line
    on the CLI, and still a ``ValueError`` for library callers who catch that."""


class WrongTokenizerError(ConfigError, TypeError):
    """A tokenizer of the wrong kind for the job (QA needs a BERT-style basic + WordPiece tokenizer)."""


class ExportError(ConversionError, RuntimeError):
    """paddle2onnx (or Paddle's tracer) could not export a model; still a ``RuntimeError`` as before."""
