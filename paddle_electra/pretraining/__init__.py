"""Continued (or from-scratch) ELECTRA pretraining with HFL's two-size generator/discriminator pair.

* :mod:`.model` -- :class:`ElectraPretrainingModel`: generator + discriminator of different sizes, tied embeddings;
* :mod:`.masking` -- the original's dynamic masking (15 %, 85 % ``[MASK]`` / 15 % unchanged);
* :mod:`.data` -- plain text -> packed examples, streamed and resumable;
* :mod:`.run` -- :func:`run_pretraining` (checkpoints, resume, curves, export to model dirs / TF / HF).

See docs/pretraining.md.
"""

from .masking import SpecialIds, mask_batch, max_predictions_per_seq
from .model import ElectraPretrainingModel, Objective, generator_sizes_for
from .run import PretrainSettings, export_halves, export_tf, run_pretraining

__all__ = [
    "ElectraPretrainingModel", "Objective", "PretrainSettings", "SpecialIds", "export_halves", "export_tf",
    "generator_sizes_for", "mask_batch", "max_predictions_per_seq", "run_pretraining",
]
