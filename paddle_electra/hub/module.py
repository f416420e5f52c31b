"""The one PaddleHub module implementation behind every ``hub_modules/<dir>/module.py``.

A drop-in for PaddleHub's official ``chinese-electra-small``/``-base`` modules (same constructor, ``predict``
signature and output formats, same state-dict layout so their fine-tuned checkpoints load with
``head='paddlenlp'``), with these differences:

* weights come from the local paddle-electra store (by the module's name) or ``model_dir=``; construction never
  touches the network, and a missing model names the ``paddle-electra`` command that produces it;
* every HFL release has a module (generators too), and the tasks go beyond the official three: ``qa`` (span
  extraction), ``rtd`` (replaced-token detection, discriminators) and ``fill-mask`` (generators);
* ``seq-cls`` uses the seed's head ([CLS] -> dropout -> Linear) unless ``head='paddlenlp'``; ``text-matching``
  is the official siamese model, or with ``matching='cross'`` the seed's sentence-pair classifier (LCQMC/BQ);
* embeddings (task ``None``) are ``[pooled [CLS] vector, token vectors]`` per input, computed with an int64
  attention mask, so an item's embedding does not depend on what else is in its batch (the official
  ``get_embedding`` mis-unpacks batches larger than one).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import paddle
import paddle.nn as nn
from paddlehub.module.module import serving
from paddlehub.module.nlp_module import TransformerModule

from ..catalog import Variant, get_variant
from ..errors import CheckpointError, ConfigError, ExportError, HubUsageError, StoreError
from ..store import resolve
from . import qa as spans
from .tasks import IGNORE, HubTask, task_for  # noqa: F401 - IGNORE: the label hub datasets pad with

log = logging.getLogger("paddle_electra.hub")
_SERVING_LOCK = threading.Lock()
FAST_MIN_ITEMS = 16  # predict(use_fast=None) exports for a call this large (or when an export is cached)

TASKS = (None, "seq-cls", "token-cls", "text-matching", "qa", "rtd", "fill-mask")
HEADS = ("seed", "paddlenlp")
MATCHING = ("siamese", "cross")
SIGNATURE_KEY = "paddle_electra_signature"  # task/head/classes a checkpoint was trained with (uint8 text)
# Versions of the official chinese-electra-small/base modules that their README and demos pin.
OFFICIAL_VERSIONS = ("1.0.0", "2.0.0", "2.0.1", "2.0.2")


def _version_class():
    from paddlehub.utils.utils import Version

    class OfficialCompatible(Version):
        """Our module version, also matching an exact pin of an official release (``version='2.0.1'``,
        ``hub install chinese-electra-small==2.0.2``): ours is a superset, so the pin is served offline from the
        installed module instead of failing with "Can't connect to Hub Server" or fetching the official one."""

        def match(self, condition: str) -> bool:
            pinned = (condition or "").lstrip("=").strip()
            return pinned in OFFICIAL_VERSIONS or super().match(condition)

    return OfficialCompatible


def OfficialCompatibleVersion(version: Any):  # noqa: N802 - used like a class in the generated modules
    return _version_class()(str(version))


def _fields(signature: str) -> dict[str, str]:
    """``task=seq-cls|head=seed|...`` as a dict."""
    return dict(part.split("=", 1) for part in signature.split("|") if "=" in part)


class ElectraHubModule(nn.Layer, TransformerModule):
    """Chinese ELECTRA as a PaddleHub module; subclasses only add ``@moduleinfo`` (name, version, summary).

    Args:
        task: ``None`` (embeddings), ``seq-cls``, ``token-cls``, ``text-matching``, ``qa``, ``rtd``
            (discriminators) or ``fill-mask`` (generators); ``sequence_classification`` is the official alias.
        load_checkpoint: a ``model.pdparams`` saved by ``hub.Trainer`` (or its directory) for this task.
        label_map: ``{index: label}``; sets ``num_classes``. Required for ``token-cls`` (ChunkEvaluator).
        num_classes: classes of ``seq-cls``/``token-cls``/``text-matching`` without a label_map.
        suffix: ChunkEvaluator's tag scheme (``B-PER`` vs ``PER-B``), as the official module.
        model_dir: a converted model directory to use instead of the store entry named like the module.
        head: ``seed`` (the seed's heads) or ``paddlenlp`` (PaddleNLP's heads, as the official module).
        matching: ``siamese`` (official text-matching) or ``cross`` (sentence-pair classifier).
        max_answer_len, doc_stride: span limits for ``qa``.
        **kwargs: passed to ``from_pretrained`` (config overrides such as ``hidden_dropout_prob``).
    """

    _tasks_supported = [t for t in TASKS if t]

    def __init__(self, task: str | None = None, load_checkpoint: str | None = None,
                 label_map: dict[int, Any] | None = None, num_classes: int = 2, suffix: bool = False,
                 model_dir: str | os.PathLike[str] | None = None, head: str = "seed", matching: str = "siamese",
                 max_answer_len: int = spans.MAX_ANSWER_LEN, doc_stride: int = spans.DOC_STRIDE, **kwargs: Any):
        # explicit form: @moduleinfo rebuilds classes it decorates, which breaks zero-argument super()
        super(ElectraHubModule, self).__init__()  # noqa: UP008
        self.variant: Variant | None = get_variant(self.name) if getattr(type(self), "name", None) else None
        self.task = self._check_task(task)
        if head not in HEADS:
            raise ConfigError(f"{self._label()}: unknown head {head!r}; choose one of {', '.join(HEADS)}")
        if matching not in MATCHING:
            raise ConfigError(f"{self._label()}: unknown matching {matching!r}; choose one of {', '.join(MATCHING)}")
        self._task: HubTask = task_for(self.task, matching)
        self.head, self.matching, self.suffix = head, matching, suffix
        self.max_answer_len, self.doc_stride = int(max_answer_len), int(doc_stride)
        if label_map:
            self.label_map = self._check_label_map(label_map)
            self.num_classes = len(self.label_map)
        else:
            if not isinstance(num_classes, int) or num_classes < 1:
                raise ConfigError(f"{self._label()}: num_classes must be a positive int, got {num_classes!r}")
            self.num_classes = num_classes
            self.label_map = {i: i for i in range(num_classes)}
        if self._task.needs_label_map and not label_map:
            raise ConfigError(f"{self._label()}: task {self.task!r} needs label_map={{0: 'B-PER', 1: 'I-PER', …, "
                              "n: 'O'}} (ChunkEvaluator scores chunks by tag name)")

        self._serving = self._fast_failed = False
        from ..runtime import tune_cpu

        tune_cpu()  # this module is the process's first model: all cores, AVX2 GEMM kernels on AMD
        self.model_dir = self._weights(model_dir)
        self._task.build(self, kwargs)
        if paddle.get_device().startswith("cpu"):  # hub.Trainer and eager predict on the fused CPU kernels
            from ..ops import fuse_encoder

            fuse_encoder(self.model)
        # recorded in every checkpoint hub.Trainer saves, so one trained for another task or head is refused
        self.register_buffer(SIGNATURE_KEY, paddle.to_tensor(np.frombuffer(self._signature().encode(), np.uint8)))
        from ..tokenizer import load_tokenizer

        self.tokenizer = load_tokenizer(self.model_dir)
        config = self.model.config
        self.pad_token_id = int(config.pad_token_id)
        self.max_position = int(config.max_position_embeddings)
        if load_checkpoint is not None:
            self._load_checkpoint(load_checkpoint)

    # ------------------------------------------------------------------------------------------ set-up
    def _check_label_map(self, label_map: Any) -> dict[int, Any]:
        """``{index: label}`` with indices 0..n-1 (JSON serving configs give them as strings)."""
        if not isinstance(label_map, dict):
            raise ConfigError(f"{self._label()}: label_map must be a dict {{0: 'negative', 1: 'positive'}}, got "
                              f"{type(label_map).__name__}")
        keys = list(label_map)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in label_map.values()) and not all(
                isinstance(k, int) or (isinstance(k, str) and k.isdigit()) for k in keys):
            flipped = {v: k for k, v in label_map.items()}
            raise ConfigError(f"{self._label()}: label_map maps index -> label, e.g. {flipped!r}; the one given maps "
                              f"label -> index ({label_map!r}): invert it")
        try:
            parsed = {int(k): v for k, v in label_map.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"{self._label()}: label_map keys must be class indices 0..n-1, got {keys!r}") from None
        if sorted(parsed) != list(range(len(parsed))):
            raise ConfigError(f"{self._label()}: label_map keys must be 0..{len(parsed) - 1} (one per class, no gaps), "
                              f"got {sorted(parsed)}; renumber the classes")
        return parsed

    def _signature(self) -> str:
        return f"task={self.task}|head={self.head}|matching={self.matching}|classes={self.num_classes}"

    def _label(self) -> str:
        return f"hub module {self.variant.name}" if self.variant else "ElectraHubModule"

    def _check_task(self, task: str | None) -> str | None:
        if task == "sequence_classification":
            log.warning("task 'sequence_classification' is the deprecated name of 'seq-cls'")
            task = "seq-cls"
        if task == "embedding":
            task = None
        if task not in TASKS:
            raise HubUsageError(f"{self._label()}: unknown task {task!r}; choose one of None (embeddings), "
                              f"{', '.join(t for t in TASKS if t)}")
        role = self.variant.role if self.variant else None
        if task == "rtd" and role == "generator":
            raise ConfigError(f"{self._label()}: task 'rtd' needs a discriminator; use "
                              f"hub.Module(name='{self.variant.companion}', task='rtd')")
        if task == "fill-mask" and role == "discriminator":
            raise ConfigError(f"{self._label()}: task 'fill-mask' needs a generator; use "
                              f"hub.Module(name='{self.variant.companion}', task='fill-mask')")
        return task

    def _weights(self, model_dir: str | os.PathLike[str] | None) -> Path:
        if model_dir is not None:
            path = Path(model_dir).expanduser()
            if not path.is_dir():
                raise StoreError(f"{self._label()}: model_dir {path} does not exist; pass a directory written by "
                                 "`paddle-electra convert`")
            return resolve(path)
        if self.variant is None:
            raise ConfigError("ElectraHubModule used directly needs model_dir=DIR (a converted model directory)")
        try:
            return resolve(self.variant.name)
        except StoreError as err:
            raise StoreError(f"{self._label()} has no weights: {err}; or pass model_dir=DIR") from None

    def pretrained(self, cls, **kwargs: Any):
        """``cls`` on this module's weights (config checked, load errors typed): the task objects' builder."""
        from ..modeling.load import from_pretrained_checked

        return from_pretrained_checked(cls, self.model_dir, **kwargs)

    def require_role(self, task: str, want: str) -> None:
        """rtd needs a discriminator directory, fill-mask a generator one."""
        from ..modeling.load import stored_head

        have = stored_head(self.model_dir)
        if have != want:
            raise ConfigError(f"{self._label()}: task {task!r} needs a {want} directory but {self.model_dir} "
                              f"holds a {have} model")

    def _load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / "model.pdparams"
        if not file.is_file():
            raise StoreError(f"{self._label()}: load_checkpoint {file} not found; pass the model.pdparams that "
                             "hub.Trainer wrote (checkpoint_dir/best_model or epoch_N)")
        from ..checkpoint.pdparams import load_pdparams

        try:
            state = load_pdparams(file, "hub.Trainer checkpoint")
        except CheckpointError as err:
            raise StoreError(f"{self._label()}: load_checkpoint: {err} (pass the model.pdparams that hub.Trainer "
                             "wrote)") from None
        if not isinstance(state, dict):
            raise StoreError(f"{self._label()}: {file} is not a state dict; pass a model.pdparams from hub.Trainer")
        recorded = state.pop(SIGNATURE_KEY, None)
        if recorded is not None:
            trained = bytes(np.asarray(recorded, dtype=np.uint8)).decode("utf-8", "replace")
            wanted, mine = _fields(trained), _fields(self._signature())
            wanted.pop("classes", None)
            mine.pop("classes", None)
            if wanted != mine:  # (a different class count gets its own message below)
                hint = {"paddlenlp": "; it has PaddleNLP's 2-layer classifier: pass head='paddlenlp'",
                        "seed": "; it has the seed's 1-layer classifier: pass head='seed'"}.get(
                    wanted.get("head"), "") if wanted.get("task") == self.task else ""
                raise ConfigError(f"{self._label()}: {file} was trained as {trained.replace('|', ', ')}, this module "
                                  f"is {self._signature().replace('|', ', ')}; construct it with "
                                  f"task={wanted.get('task')!r}, head={wanted.get('head')!r}{hint}")
        own = self.state_dict()
        state[SIGNATURE_KEY] = own[SIGNATURE_KEY]
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        for key in (k for k in own if k in state):
            have, want = list(state[key].shape), list(own[key].shape)
            if have == want:
                continue
            if "classifier" in key and have[:-1] == want[:-1]:
                raise ConfigError(
                    f"{self._label()}: {file} was trained with {have[-1]} classes ({key} {have}) but this module has "
                    f"num_classes={want[-1]}; pass num_classes={have[-1]} or a label_map with {have[-1]} labels")
            raise ConfigError(f"{self._label()}: {file} is for another model size ({key} is {have}, this model "
                              f"has {want}); load it into the module it was trained with")
        if missing or unexpected:
            hint = ""
            if any(k.startswith("model.classifier.dense") for k in unexpected):
                hint = "; it has PaddleNLP's 2-layer classifier: pass head='paddlenlp'"
            elif "model.classifier.weight" in unexpected and any(k.startswith("model.classifier.") for k in missing):
                hint = "; it has the seed's 1-layer classifier: pass head='seed'"
            example = (missing or unexpected)[0]
            raise ConfigError(
                f"{self._label()}: {file} does not match task {self.task!r} ({len(missing)} parameters missing, "
                f"{len(unexpected)} unexpected, e.g. {example}){hint or '; load it with the task it was trained for'}")
        self.set_state_dict(state)
        log.info("loaded %s", file)

    @classmethod
    def get_tokenizer(cls, *args: Any, **kwargs: Any):
        """The tokenizer of this module's weights, for hub datasets; keywords (``do_lower_case=False``) pass on.

        Callable on the class or an instance, like the official staticmethod, but offline: the vocab comes from
        the store entry named like the module (the official one downloads ``chinese-electra-small``'s)."""
        from ..tokenizer import load_tokenizer

        name = getattr(cls, "name", None)
        if not name:
            raise ConfigError("get_tokenizer on ElectraHubModule itself needs a module: use hub.Module(name=...)")
        return load_tokenizer(resolve(get_variant(name).name), **kwargs)

    # ------------------------------------------------------------------------------------------ forward
    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, attention_mask=None,
                query_input_ids=None, query_token_type_ids=None, query_position_ids=None, query_attention_mask=None,
                title_input_ids=None, title_token_type_ids=None, title_position_ids=None, title_attention_mask=None,
                seq_lengths=None, labels=None, start_positions=None, end_positions=None):
        """Official-module signature; returns probabilities, or ``(outputs, loss, metrics)`` given targets."""
        inputs = dict(locals())
        inputs.pop("self")
        return self._task.forward(self, inputs)

    # ------------------------------------------------------------------------------------------ training
    def _step(self, batch: Sequence[paddle.Tensor]):
        if not self._task.trainable:
            raise ConfigError(f"{self._label()}: task None (embeddings) has no training objective; construct the "
                              "module with task='seq-cls' (or another task) to fine-tune")
        if len(batch) not in self._task.batch_fields:
            raise ConfigError(f"{self._label()}: task {self.task!r} expects batches {self._task.batch_layout}, "
                              f"got {len(batch)} fields")
        return self._task.step(self, batch)

    def pairs_from_siamese(self, query_ids: paddle.Tensor, title_ids: paddle.Tensor):
        """``[CLS] q [SEP] t [SEP]`` rows from separately encoded texts, the longer text trimmed first (as the seed)."""
        pad, sep_id = self.pad_token_id, self._sep_id
        cls_id = int(self.tokenizer.convert_tokens_to_ids("[CLS]"))
        budget = int(query_ids.shape[1]) - 3
        ids_rows, type_rows = [], []
        for q, t in zip(query_ids.numpy().tolist(), title_ids.numpy().tolist()):
            a, b = [i for i in q if i != pad][1:-1], [i for i in t if i != pad][1:-1]
            while len(a) + len(b) > budget:
                (a if len(a) > len(b) else b).pop()
            ids_rows.append([cls_id, *a, sep_id, *b, sep_id])
            type_rows.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
        ids, types, _ = self.pad(ids_rows, type_rows)
        return ids, types

    def training_step(self, batch: list[paddle.Tensor], batch_idx: int) -> dict[str, Any]:
        """One hub.Trainer step on this task's batch layout: ``{'loss', 'metrics'}``."""
        self._task.start_train_step(self)
        _, loss, metrics = self._step(batch)
        return {"loss": loss, "metrics": metrics}

    def validation_step(self, batch: list[paddle.Tensor], batch_idx: int) -> dict[str, Any]:
        """One hub.Trainer evaluation step: ``{'loss', 'metrics'}`` (token-cls F1 accumulates over the set)."""
        self._task.start_validation_step(self, batch_idx)
        _, loss, metrics = self._step(batch)
        return {"loss": loss, "metrics": self._task.validation_metrics(self, batch, metrics)}

    # ------------------------------------------------------------------------------------------ predict
    @property
    def _sep_id(self) -> int:
        return int(self.tokenizer.convert_tokens_to_ids("[SEP]"))

    def pad(self, ids_rows: list[list[int]], type_rows: list[list[int]]):
        width = max(len(r) for r in ids_rows)
        ids = np.full((len(ids_rows), width), self.pad_token_id, dtype="int64")
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)  # int64: Paddle adds a float mask as-is, it converts only int/bool masks
        for i, (row, row_types) in enumerate(zip(ids_rows, type_rows)):
            ids[i, :len(row)], types[i, :len(row)], mask[i, :len(row)] = row, row_types, 1
        return paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask)

    def encode(self, items: Sequence[Sequence[str]], max_seq_len: int, split_char: str = "\002"):
        from paddlehub.utils.utils import reseg_token_label

        ids_rows, type_rows = [], []
        for texts in items:
            if getattr(self._task, "splits_words", False):
                tokens, _ = reseg_token_label(tokenizer=self.tokenizer, tokens=texts[0].split(split_char))
                encoded = self.tokenizer(tokens, is_split_into_words=True, max_length=max_seq_len, truncation=True)
            else:
                encoded = self.tokenizer(texts[0], texts[1] if len(texts) > 1 else None, max_length=max_seq_len,
                                         truncation=True)
            ids_rows.append(list(encoded["input_ids"]))
            type_rows.append(list(encoded["token_type_ids"]))
        return (*self.pad(ids_rows, type_rows), [len(r) for r in ids_rows])

    def _check_data(self, data: Any) -> list[list[str]]:
        if isinstance(data, str) or not isinstance(data, Sequence):
            raise ConfigError(f"{self._label()}: predict data must be a list like [['text'], ['text_a', 'text_b']], "
                              f"got {type(data).__name__}")
        need, what = self._task.texts_per_item, self._task.item_shape
        items = []
        for i, item in enumerate(data):
            texts = [item] if isinstance(item, str) else list(item) if isinstance(item, Sequence) else None
            # an empty text is predicted (as the official module does: [CLS] [SEP]), never fails the batch
            if (texts is None or not 1 <= len(texts) <= 2 or (need and len(texts) != need)
                    or any(not isinstance(t, str) for t in texts)):
                error = self._task.bad_item_error
                raise error(f"{self._label()}: predict data item {i} must be {what} of strings for task "
                            f"{self.task!r}, got {item!r}")
            items.append(texts)
        return items

    def predict(self, data: list[list[str]], max_seq_len: int = 128, split_char: str = "\002", batch_size: int = 1,
                use_gpu: bool = False, return_prob: bool = False, top_k: int = 5, use_fast: bool | None = None):
        """Predict for ``data`` (``[[text], [text_a, text_b], …]``), in the official module's output format.

        seq-cls/text-matching: labels; token-cls: one label per token of ``[CLS] tokens [SEP]``; None:
        ``[pooled, token vectors]`` per item; qa (items ``[question, context]``): ``{text, start, end, score}``;
        rtd: ``[{token, replaced_prob}]``; fill-mask: per ``[MASK]``, ``top_k`` ``{token, prob}``.
        ``return_prob`` also returns the probabilities: ``(results, probs)``. ``use_fast`` (None, True or False;
        tasks None, seq-cls, token-cls, cross text-matching): a Paddle Inference export of this module's weights
        (oneDNN on CPU), checked against the eager model (<= 1e-4) and cached by the weights' digest in the store,
        so it is made once per set of weights. None (the default) uses it when an export of these weights is
        already cached or the call has at least ``FAST_MIN_ITEMS`` items (the export, a few seconds, then pays
        for itself), falling back to eager Paddle with one warning; ``hub serving`` always prefers it.
        """
        items = self._check_data(data)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"{self._label()}: batch_size must be a positive int, got {batch_size!r}")
        if use_gpu and not paddle.is_compiled_with_cuda():
            raise ConfigError(f"{self._label()}: use_gpu=True but this Paddle build has no CUDA; pass use_gpu=False")
        paddle.set_device("gpu" if use_gpu else "cpu")
        from ..modeling.config import fit_length

        max_seq_len = fit_length(max_seq_len, self.max_position, "max_seq_len")
        self.eval()
        fast = self._fast_for(use_fast, len(items), "gpu" if use_gpu else "cpu")
        results: list[Any] = []
        probs: list[Any] = []
        with paddle.no_grad():
            for start in range(0, len(items), batch_size):
                batch_results, batch_probs = self._task.predict_batch(self, items[start:start + batch_size],
                                                                      max_seq_len, split_char, top_k, fast)
                results += batch_results
                probs += batch_probs
        return (results, probs) if return_prob and self.task is not None else results

    def _fast_for(self, use_fast: bool | None, n_items: int, device: str):
        """The fast predictor to use for this call, or None for eager Paddle (see ``predict``)."""
        if use_fast is False or (use_fast is None and (not self._task.fast or self._fast_failed)):
            return None
        if not self._task.fast:
            raise ConfigError(f"{self._label()}: use_fast supports tasks None, seq-cls, token-cls and text-matching "
                              f"with matching='cross', not {self.task!r}; call predict without use_fast")
        from ..inference.fast import ModelExport, fast_or_none

        if getattr(self, "_fast", None) is None or self._fast.device != device:
            self._fast = ModelExport(self.model, device=device)
        if use_fast is None and n_items < FAST_MIN_ITEMS and not self._serving and not self._fast.cached():
            return None
        fast = fast_or_none(self._fast.predictor, self._label(),
                            "predicting with eager Paddle (use_fast=False skips the attempt)", bool(use_fast))
        self._fast_failed = fast is None
        return fast

    def get_embedding(self, data: list[list[str]], use_gpu: bool = False, max_seq_len: int = 128,
                      batch_size: int = 1) -> list[list[Any]]:
        """``[pooled [CLS] vector, token vectors]`` per item (task None); correct for any batch size."""
        if self.task is not None:
            raise HubUsageError(f"{self._label()}: get_embedding needs task=None, this module has task "
                                f"{self.task!r}; construct hub.Module(name=...) without a task for embeddings")
        return self.predict(data, max_seq_len=max_seq_len, batch_size=batch_size, use_gpu=use_gpu)

    @serving
    def predict_method(self, data: list[list[str]], max_seq_len: int = 128, batch_size: int = 1,
                       use_gpu: bool = False) -> list[Any]:
        """``hub serving`` entry point: ``predict``'s results as JSON-able lists (token-cls without [CLS]/[SEP]).

        The server runs one thread per connection; concurrent requests are micro-batched into one forward
        (``hub/batching.py``), each validated on its own first, so a bad request fails alone."""
        from .batching import MicroBatcher

        self._check_data(data)
        self._serving = True  # a long-lived server: the export pays for itself
        if os.environ.get("PADDLE_ELECTRA_SERVING_BATCH") == "0":  # one request per forward (for comparison)
            with _SERVING_LOCK:
                results = self.predict(data, max_seq_len=max_seq_len, batch_size=batch_size, use_gpu=use_gpu)
        else:
            with _SERVING_LOCK:
                if getattr(self, "_batcher", None) is None:
                    self._batcher = MicroBatcher(lambda items, **options: self.predict(
                        items, batch_size=max(1, len(items)), **options))
            results = self._batcher.submit(list(data), max_seq_len=max_seq_len, use_gpu=use_gpu)
        return self._task.served(results)

    # ------------------------------------------------------------------------------------------ export
    @property
    def input_spec(self) -> list[paddle.static.InputSpec]:
        """int64 ``input_ids`` and ``token_type_ids`` (query then title for siamese text-matching)."""
        length = self._task.static_length(self)
        return [paddle.static.InputSpec(shape=[None, length], dtype="int64", name=n)
                for n in self._task.input_names(self)]

    def _export_layer(self) -> nn.Layer:
        return _ExportWrapper(self)

    def _static(self, input_spec: list | None):
        self.eval()
        return paddle.jit.to_static(self._export_layer(), input_spec=input_spec or self.input_spec, full_graph=True)

    def _save_static(self, prefix: str, input_spec: list | None) -> None:
        """The traced program, on Paddle's own ops (never the fused CPU kernels, which no runtime knows)."""
        from ..ops import unfused

        with unfused(self.model):
            paddle.jit.save(self._static(input_spec), prefix)

    def save_inference_model(self, dirname: str, model_filename: str | None = None,
                             params_filename: str | None = None, input_spec: list | None = None,
                             include_sub_modules: bool = True, combined: bool = True) -> None:
        """Paddle Inference files ``dirname/<module name>.*`` of this task's forward (pad id 0 = padding)."""
        self._save_static(os.path.join(dirname, self._export_name()), input_spec)
        log.info("Paddle Inference model saved in %s", dirname)

    def export_onnx_model(self, dirname: str, input_spec: list | None = None, include_sub_modules: bool = True,
                          opset_version: int = 11, **kwargs: Any) -> Path:
        """ONNX file ``dirname/<module name>.onnx`` of this task's forward, via paddle2onnx, offline.

        ``paddle.onnx.export`` is not used: through it paddle2onnx folds constants with Polygraphy, which
        pip-installs ``onnx_graphsurgeon`` from the network (and its onnxoptimizer pass list is broken in 2.1.0).
        """
        import tempfile

        import paddle2onnx

        os.makedirs(dirname, exist_ok=True)
        save_file = os.path.join(dirname, f"{self._export_name()}.onnx")
        with tempfile.TemporaryDirectory(prefix="electra-onnx-") as tmp:
            prefix = os.path.join(tmp, "model")
            self._save_static(prefix, input_spec)
            model_file = prefix + (".json" if os.path.isfile(prefix + ".json") else ".pdmodel")
            params_file = prefix + ".pdiparams" if os.path.isfile(prefix + ".pdiparams") else ""
            kwargs.setdefault("optimize_tool", "None")
            try:
                paddle2onnx.export(model_file, params_file, save_file, opset_version=opset_version, **kwargs)
            except SystemExit:  # paddle2onnx's logging.error() exits the interpreter
                raise ExportError(f"paddle2onnx could not convert {self._label()} (task {self.task!r}); "
                                   "see its log above") from None
        if not os.path.isfile(save_file):
            raise ExportError(f"paddle2onnx wrote no {save_file}; see its log above")
        return Path(save_file)

    def _export_name(self) -> str:
        return self.variant.name if self.variant else "electra"


class _ExportWrapper(nn.Layer):
    """Exposes exactly the exported inputs, so ``to_static`` does not see the optional training arguments."""

    def __init__(self, module: ElectraHubModule):
        super().__init__()
        self.module = module

    def forward(self, input_ids, token_type_ids, title_input_ids=None, title_token_type_ids=None):
        return self.module._task.export_forward(self.module, input_ids, token_type_ids, title_input_ids,
                                                title_token_type_ids)
