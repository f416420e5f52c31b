"""The seven Chinese fine-tuning tasks and the seed's hyperparameter defaults for each.

Sources (the seed's own code and README, ymcui/Chinese-ELECTRA):

* column layouts and label lists: ymcui/Chinese-ELECTRA ``finetune/classification/classification_tasks.py``;
* defaults: ``configure_finetuning.py`` (max_seq_length 128, 3 epochs, batch 32/32, warmup 0.1, weight decay
  0.01, layerwise decay 0.8; ``model_size == "large"`` → lr 5e-5 and decay 0.9);
* cmrc2018/drcd: the README's ``params_cmrc2018.json`` (max_seq_length 512, 2 epochs). The seed's own
  "squad"/"qa" name rule does *not* fire for these names, so without the params file they would get 128/3;
  we use the README values (drcd by analogy: the README only shows the cmrc2018 file);
* learning rates: README "small 3e-4 / base 1e-4" (large: the config's 5e-5); CAIL2018 (legal models) README
  "small/base/large 5e-4/3e-4/1e-4".

``small-ex`` (24 layers, hidden 256) has no documented fine-tuning lr; it gets the ``small`` values (an
assumption, stated here so it can be revisited).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from paddle_electra.errors import ConfigError

__all__ = [
    "MODEL_SIZES",
    "SPLITS",
    "TASKS",
    "TaskDefaults",
    "TaskSpec",
    "TsvColumns",
    "custom_task",
    "get_task",
    "normalize_split",
    "task_names",
]

MODEL_SIZES: tuple[str, ...] = ("small", "small-ex", "base", "large")
SPLITS: tuple[str, ...] = ("train", "dev", "eval")


def _normalize_size(size: str) -> str:
    key = size.strip().lower().replace("_", "-")
    if key not in MODEL_SIZES:
        raise ConfigError(f"unknown model size {size!r}; known sizes: {', '.join(MODEL_SIZES)}")
    return key


def normalize_split(split: str) -> str:
    """Map a split name to train/dev/eval; ``test`` is the seed's ``eval`` split (files ``eval.*``)."""
    key = split.strip().lower()
    if key == "test":
        return "eval"
    if key not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; known splits: train, dev, eval (alias: test)")
    return key


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class TaskDefaults:
    """Seed fine-tuning hyperparameters for one task; lr and layerwise decay depend on the model size."""

    max_seq_length: int
    num_train_epochs: float
    learning_rates: Mapping[str, float]
    layerwise_lr_decays: Mapping[str, float]
    train_batch_size: int = 32
    eval_batch_size: int = 32
    warmup_proportion: float = 0.1
    weight_decay_rate: float = 0.01
    # Span-extraction settings (C:configure_finetuning.py); None for classification tasks.
    max_query_length: int | None = None
    doc_stride: int | None = None
    n_best_size: int | None = None
    max_answer_length: int | None = None
    beam_size: int | None = None
    answerable_weight: float | None = None

    def learning_rate(self, model_size: str) -> float:
        """Peak learning rate for ``small``/``small-ex``/``base``/``large``."""
        return self.learning_rates[_normalize_size(model_size)]

    def layerwise_lr_decay(self, model_size: str) -> float:
        """Layerwise lr decay factor (0.8; 0.9 for large, as the seed's config sets)."""
        return self.layerwise_lr_decays[_normalize_size(model_size)]

    def for_size(self, model_size: str) -> dict[str, Any]:
        """All defaults resolved for one model size, as a plain dict (for CLI/hparams merging)."""
        out: dict[str, Any] = {
            "max_seq_length": self.max_seq_length,
            "num_train_epochs": self.num_train_epochs,
            "learning_rate": self.learning_rate(model_size),
            "layerwise_lr_decay": self.layerwise_lr_decay(model_size),
            "train_batch_size": self.train_batch_size,
            "eval_batch_size": self.eval_batch_size,
            "warmup_proportion": self.warmup_proportion,
            "weight_decay_rate": self.weight_decay_rate,
        }
        for key in ("max_query_length", "doc_stride", "n_best_size", "max_answer_length", "beam_size",
                    "answerable_weight"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class TsvColumns:
    """Where text_a/text_b/label sit in a tsv row (0-based) and how many columns a row must have."""

    text_a: int
    text_b: int | None
    label: int
    n_columns: int
    exact: bool = True  # False: at least n_columns (XNLI-1.0 dev/test rows have 19 columns)
    layout: str = ""  # human-readable description for error messages

    def describe(self) -> str:
        count = f"{self.n_columns}" if self.exact else f"at least {self.n_columns}"
        return f"{count} tab-separated columns ({self.layout})"


@dataclass(frozen=True)
class ColumnNames:
    """User-named columns (``--text-column``, ``--text-pair-column``, ``--label-column``)."""

    text_a: str | None = None
    text_b: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """Everything the readers, trainer and evaluator need to know about one task."""

    name: str
    kind: Literal["classification", "qa", "token-cls"]
    labels: tuple[str, ...] | None  # None: the sorted label set of the train split (cail2018)
    metric: Literal["accuracy", "em_f1"]
    file_format: Literal["tsv", "squad_json", "cail", "bio"]
    extensions: tuple[str, ...]  # tried in this order when looking for <split>.<ext>
    defaults: TaskDefaults
    columns: Mapping[str, TsvColumns] = field(default_factory=lambda: _frozen({}))
    label_aliases: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    description: str = ""
    # custom tasks: the user's column names (a ColumnNames); None: recognised from the header
    column_names: Any = None

    @property
    def num_labels(self) -> int | None:
        """Number of classes, or None when the labels come from the data (cail2018)."""
        return None if self.labels is None else len(self.labels)

    def columns_for(self, split: str) -> TsvColumns:
        """The tsv layout of ``split`` (xnli's dev/eval differ from train)."""
        split = normalize_split(split)
        if split in self.columns:
            return self.columns[split]
        return self.columns["default"]


_STD_LR = _frozen({"small": 3e-4, "small-ex": 3e-4, "base": 1e-4, "large": 5e-5})
_CAIL_LR = _frozen({"small": 5e-4, "small-ex": 5e-4, "base": 3e-4, "large": 1e-4})
SEED_LAYERWISE_DECAY = 0.8  # every size but large (0.9)
_DECAY = _frozen({"small": 0.8, "small-ex": 0.8, "base": 0.8, "large": 0.9})

_CLS_DEFAULTS = TaskDefaults(
    max_seq_length=128, num_train_epochs=3.0, learning_rates=_STD_LR, layerwise_lr_decays=_DECAY
)
QA_DEFAULTS = TaskDefaults(
    max_seq_length=512,
    num_train_epochs=2.0,
    learning_rates=_STD_LR,
    layerwise_lr_decays=_DECAY,
    max_query_length=64,
    doc_stride=128,
    n_best_size=20,
    max_answer_length=30,
    beam_size=20,
    answerable_weight=0.5,
)
_CAIL_DEFAULTS = TaskDefaults(
    max_seq_length=128, num_train_epochs=3.0, learning_rates=_CAIL_LR, layerwise_lr_decays=_DECAY
)

_SINGLE = TsvColumns(text_a=1, text_b=None, label=0, n_columns=2, layout="label, text")
_PAIR = TsvColumns(text_a=0, text_b=1, label=2, n_columns=3, layout="text_a, text_b, label")
_SINGLE_TEXT_FIRST = TsvColumns(text_a=0, text_b=None, label=1, n_columns=2, layout="text, label")
_XNLI_DEV = TsvColumns(
    text_a=6,
    text_b=7,
    label=1,
    n_columns=8,
    exact=False,
    layout="XNLI-1.0 layout: language, gold_label, ..., sentence1 in column 7, sentence2 in column 8",
)
_BINARY = ("0", "1")
# released classification files come as any of these (LCQMC test .txt, BQ Corpus .csv); tried in this order
TABLE_EXTENSIONS = ("tsv", "csv", "txt", "jsonl", "json")


def _spec(**kwargs: Any) -> TaskSpec:
    for key in ("columns", "label_aliases"):
        if key in kwargs:
            kwargs[key] = _frozen(kwargs[key])
    return TaskSpec(**kwargs)


def _tsv_task(name: str, columns: Mapping[str, TsvColumns], description: str, **kwargs: Any) -> TaskSpec:
    """A sentence(-pair) classification task read from tsv files, scored by accuracy."""
    fields = dict(kind="classification", labels=_BINARY, metric="accuracy", file_format="tsv",
                  extensions=TABLE_EXTENSIONS, defaults=_CLS_DEFAULTS)
    return _spec(name=name, columns=columns, description=description, **{**fields, **kwargs})


def _squad_task(name: str, description: str) -> TaskSpec:
    """A span-extraction task in SQuAD-v1 JSON, scored by the official CMRC2018/DRCD EM/F1."""
    return _spec(name=name, kind="qa", labels=None, metric="em_f1", file_format="squad_json",
                 extensions=("json",), defaults=QA_DEFAULTS, description=description)


TASKS: Mapping[str, TaskSpec] = _frozen(
    {
        "chnsenticorp": _tsv_task("chnsenticorp", {"default": _SINGLE}, "ChnSentiCorp sentiment, `label \\t text`"),
        "lcqmc": _tsv_task("lcqmc", {"default": _PAIR}, "LCQMC question matching, `a \\t b \\t label`"),
        "bqcorpus": _tsv_task("bqcorpus", {"default": _PAIR}, "BQ Corpus question matching, `a \\t b \\t label`"),
        "xnli": _tsv_task(
            "xnli",
            {"train": _PAIR, "dev": _XNLI_DEV, "eval": _XNLI_DEV, "default": _PAIR},
            "XNLI (zh): train `premise \\t hypo \\t label`, dev/eval in the XNLI-1.0 tsv layout",
            labels=("contradictory", "entailment", "neutral"),
            label_aliases={"contradiction": "contradictory"},
        ),
        "cmrc2018": _squad_task("cmrc2018", "CMRC 2018 span extraction (simplified Chinese), SQuAD-v1 JSON"),
        "drcd": _squad_task("drcd", "DRCD span extraction (traditional Chinese), SQuAD-v1 JSON"),
        "cail2018": _tsv_task(
            "cail2018",
            {"default": _SINGLE},
            "CAIL2018 charge prediction: JSON lines (single-charge records) or `label \\t text`",
            labels=None,
            file_format="cail",
            extensions=("json", "jsonl", "tsv", "csv", "txt"),
            defaults=_CAIL_DEFAULTS,
        ),
    }
)


CUSTOM = "custom"
NER = "ner"
NER_TASK = _spec(name=NER, kind="token-cls", labels=None, metric="accuracy", file_format="bio",
                 extensions=("txt", "tsv", "conll", "bio", "bmes", "jsonl", "json"), defaults=_CLS_DEFAULTS,
                 description="your own token classification (NER) data in BIO layouts, scored by entity F1")


def custom_task(text_column: str | None = None, text_pair_column: str | None = None,
                label_column: str | None = None) -> TaskSpec:
    """A user's own classification set (CSV/TSV/JSONL with named columns), trained with the seed's recipe.

    Labels come from the training split (sorted) or a ``labels.txt`` beside it; columns from the names given or,
    without names, from the header (``text``/``sentence1``/``label``...). Pairs when a pair column is named or
    the header has one.
    """
    names = ColumnNames(text_column, text_pair_column, label_column) if (
        text_column or text_pair_column or label_column) else None
    columns = {"default": _PAIR if text_pair_column else _SINGLE_TEXT_FIRST}
    return _tsv_task(CUSTOM, columns, "your own classification data: CSV/TSV/JSONL with named columns",
                     labels=None, column_names=names)


def task_names() -> list[str]:
    """Names of the seven registered tasks, in registry order (``custom`` is not one: it is your data)."""
    return list(TASKS)


def get_task(name: str | TaskSpec) -> TaskSpec:
    """Look up a task by name (case-insensitive); the error lists the known names."""
    if isinstance(name, TaskSpec):
        return name
    key = str(name).strip().lower()
    if key == CUSTOM:
        return custom_task()
    if key == NER:
        return NER_TASK
    spec = TASKS.get(key)
    if spec is None:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)} "
                          f"(or {CUSTOM}/{NER} for your own data)")
    return spec
