"""Fine-tuning with the seed's recipe. Imports point down: settings -> shared -> {classification, qa, ner} -> run
-> seed_layout (the seed's ``run_finetuning.py`` layout)."""

from .run import RUNNERS, check_model_for, run_finetuning, run_identity
from .seed_layout import run_seed_style
from .settings import FinetuneSettings, build_settings, loop_config, parse_hparams, validate_settings

__all__ = ["RUNNERS", "FinetuneSettings", "build_settings", "check_model_for", "loop_config", "parse_hparams",
           "run_finetuning", "run_identity", "run_seed_style", "validate_settings"]
