"""One object per hub task: what it builds, how it runs forward, what a hub.Trainer batch holds, how predict
encodes and decodes, and what it exports. ``ElectraHubModule`` holds one and delegates; the layers stay on the
module (``model.*``, ``classifier.*``), so state dicts keep the official module's layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..compat import rtd_logits
from ..errors import ConfigError, HubUsageError

IGNORE = -100  # label of tokens that take no part in a token-level loss (PaddleHub's SeqLabelingDataset pads)


def accuracy(pred: paddle.Tensor, labels: paddle.Tensor) -> float:
    keep = labels != IGNORE
    total = int(keep.astype("int64").sum())
    return float(((pred == labels) & keep).astype("int64").sum()) / total if total else 0.0


def classified(logits, labels):
    """Probabilities, or ``(probs, loss, {'acc'})`` given labels: the classification tasks' output."""
    probs = F.softmax(logits, axis=-1)
    if labels is None:
        return probs
    labels = labels.reshape([-1])
    return probs, F.cross_entropy(logits, labels), {"acc": accuracy(probs.argmax(axis=-1), labels)}


class HubTask:
    """The default: one text or a pair in, one encoder pass, per-item outputs."""

    name: str | None = None
    batch_layout = "(input_ids, token_type_ids, labels)"  # also the error text when a batch does not match
    batch_fields: tuple[int, ...] = (3,)
    texts_per_item: int | None = 1  # None: one text or a pair
    item_shape = "[text]"
    trainable = True
    needs_label_map = False
    bad_item_error: type[Exception] = ConfigError  # what a malformed predict item raises
    fast = False  # predict(use_fast=True) through an export of the weights
    fast_outputs_probs = True  # the exported model returns logits: softmax them as forward() does

    def build(self, module, kwargs: dict[str, Any]) -> None:
        raise NotImplementedError

    def forward(self, module, inputs: dict[str, Any]):
        raise NotImplementedError

    def step(self, module, batch: Sequence[paddle.Tensor]):
        return module(input_ids=batch[0], token_type_ids=batch[1], labels=batch[2])

    def start_train_step(self, module) -> None:
        """Before each hub.Trainer training step."""

    def start_validation_step(self, module, batch_idx: int) -> None:
        """Before each hub.Trainer evaluation step."""

    def validation_metrics(self, module, batch, metrics: dict[str, float]) -> dict[str, float]:
        return metrics

    def predict_batch(self, module, items: list[list[str]], max_seq_len: int, split_char: str, top_k: int,
                      fast=None) -> tuple[list[Any], list[Any]]:
        ids, types, mask, lengths = module.encode(items, max_seq_len, split_char)
        if fast is not None:
            from ..numeric import softmax

            out = fast(ids.numpy(), types.numpy(), mask.numpy())
            out = softmax(out) if self.fast_outputs_probs else out
        else:
            out = module(input_ids=ids, token_type_ids=types, attention_mask=mask).numpy()
        return self.decode(module, out, lengths)

    def decode(self, module, out, lengths: list[int]) -> tuple[list[Any], list[Any]]:
        return [module.label_map[int(i)] for i in out.argmax(-1)], out.tolist()

    def served(self, results: list[Any]) -> list[Any]:
        """``predict_method``'s JSON results (token-cls drops [CLS]/[SEP])."""
        return results

    def input_names(self, module) -> list[str]:
        return ["input_ids", "token_type_ids"]

    def static_length(self, module) -> int | None:
        return None

    def export_forward(self, module, input_ids, token_type_ids, title_input_ids=None, title_token_type_ids=None):
        return module(input_ids=input_ids, token_type_ids=token_type_ids)


class Embedding(HubTask):
    """Task None: the sequence tensor, as the official module (``[:, 0]`` is [CLS])."""

    texts_per_item = None
    item_shape = "[text] or [text_a, text_b]"
    trainable = False
    fast = True
    fast_outputs_probs = False  # the export returns the sequence output itself

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp

        module.model = module.pretrained(nlp.ElectraModel, **kwargs)

    def forward(self, module, inputs):
        return module.model(inputs["input_ids"], inputs["token_type_ids"], inputs["position_ids"],
                            inputs["attention_mask"])

    def decode(self, module, out, lengths):
        return [[out[i, 0].tolist(), out[i, :n].tolist()] for i, n in enumerate(lengths)], []


class SeqCls(HubTask):
    name = "seq-cls"
    texts_per_item = None
    item_shape = "[text] or [text_a, text_b]"
    fast = True

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp

        from ..modeling.heads import ElectraForSeedClassification

        cls = ElectraForSeedClassification if self.seed_head(module) else nlp.ElectraForSequenceClassification
        module.model = module.pretrained(cls, num_labels=module.num_classes, **kwargs)

    def seed_head(self, module) -> bool:
        return module.head == "seed"

    def forward(self, module, inputs):
        logits = module.model(inputs["input_ids"], inputs["token_type_ids"], inputs["position_ids"],
                              inputs["attention_mask"])
        return classified(logits, inputs["labels"])


class TextMatchingCross(SeqCls):
    """``matching='cross'``: the seed's sentence-pair classifier; also trains on the siamese 5-tuple."""

    name = "text-matching"
    bad_item_error = HubUsageError  # the official module raises RuntimeError here
    batch_layout = "(input_ids, token_type_ids, labels) or the siamese 5-tuple"
    batch_fields = (3, 5)
    texts_per_item = 2
    item_shape = "[text_a, text_b]"

    def seed_head(self, module) -> bool:
        return True

    def step(self, module, batch):
        if len(batch) == 5:
            ids, types = module.pairs_from_siamese(batch[0], batch[2])
            return module(input_ids=ids, token_type_ids=types, labels=batch[4])
        return super().step(module, batch)


class TextMatchingSiamese(HubTask):
    """The official text-matching model: mean-pooled query and title, ``[q, t, |q - t|]`` -> classifier."""

    name = "text-matching"
    bad_item_error = HubUsageError
    batch_layout = "(query_input_ids, query_token_type_ids, title_input_ids, title_token_type_ids, labels)"
    batch_fields = (5,)
    texts_per_item = 2
    item_shape = "[text_a, text_b]"

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp

        module.model = module.pretrained(nlp.ElectraModel, **kwargs)
        module.dropout = nn.Dropout(0.1)  # the official layout: model.*, dropout, classifier [3H, n]
        module.classifier = nn.Linear(module.model.config.hidden_size * 3, module.num_classes)

    def _pooled(self, module, prefix: str, inputs):
        ids = inputs[f"{prefix}_input_ids"]
        hidden = module.model(ids, inputs[f"{prefix}_token_type_ids"], inputs[f"{prefix}_position_ids"],
                              inputs[f"{prefix}_attention_mask"])
        mask = (ids != module.pad_token_id).astype(hidden.dtype).unsqueeze(2)
        return (module.dropout(hidden) * mask).sum(axis=1) / mask.sum(axis=1)

    def forward(self, module, inputs):
        query, title = self._pooled(module, "query", inputs), self._pooled(module, "title", inputs)
        logits = module.classifier(paddle.concat([query, title, paddle.abs(query - title)], axis=-1))
        return classified(logits, inputs["labels"])

    def step(self, module, batch):
        return module(query_input_ids=batch[0], query_token_type_ids=batch[1], title_input_ids=batch[2],
                      title_token_type_ids=batch[3], labels=batch[4])

    def predict_batch(self, module, items, max_seq_len, split_char, top_k, fast=None):
        q_ids, q_types, q_mask, _ = module.encode([t[:1] for t in items], max_seq_len)
        t_ids, t_types, t_mask, _ = module.encode([t[1:] for t in items], max_seq_len)
        out = module(query_input_ids=q_ids, query_token_type_ids=q_types, query_attention_mask=q_mask,
                     title_input_ids=t_ids, title_token_type_ids=t_types, title_attention_mask=t_mask).numpy()
        return self.decode(module, out, [])

    def input_names(self, module):
        return ["query_input_ids", "query_token_type_ids", "title_input_ids", "title_token_type_ids"]

    def export_forward(self, module, input_ids, token_type_ids, title_input_ids=None, title_token_type_ids=None):
        return module(query_input_ids=input_ids, query_token_type_ids=token_type_ids,
                      title_input_ids=title_input_ids, title_token_type_ids=title_token_type_ids)


class TokenCls(HubTask):
    """Per-token tags scored with PaddleNLP's ChunkEvaluator (F1 over entities), as the official module."""

    name = "token-cls"
    batch_layout = "(input_ids, token_type_ids, seq_lengths, labels)"
    batch_fields = (4,)
    fast = True
    needs_label_map = True
    splits_words = True  # items are words joined by split_char

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp
        from paddlenlp.metrics import ChunkEvaluator

        module.model = module.pretrained(nlp.ElectraForTokenClassification, num_labels=module.num_classes, **kwargs)
        labels = [module.label_map[i] for i in sorted(module.label_map)]
        module.metric = ChunkEvaluator(label_list=labels, suffix=module.suffix)
        module.outside_label = labels.index("O") if "O" in labels else 0

    def forward(self, module, inputs):
        input_ids, labels = inputs["input_ids"], inputs["labels"]
        logits = module.model(input_ids, inputs["token_type_ids"], inputs["position_ids"], inputs["attention_mask"])
        probs = F.softmax(logits, axis=-1)
        if labels is None:
            return probs
        loss = F.cross_entropy(logits.reshape([-1, module.num_classes]), labels.reshape([-1]), ignore_index=IGNORE)
        # real tokens only: hub's SeqLabelingDataset reports seq_len = max_seq_len, counting padding
        real = (input_ids != module.pad_token_id).astype("int64").sum(axis=1)
        seq_lengths = inputs["seq_lengths"]
        seq_lengths = real if seq_lengths is None else paddle.minimum(seq_lengths.reshape([-1]), real)
        ignored = labels == IGNORE  # and no prediction where no label is scored
        outside = paddle.full_like(labels, module.outside_label)
        preds = paddle.where(ignored, outside, probs.argmax(axis=-1).astype(labels.dtype))
        metric_labels = paddle.where(ignored, outside, labels)
        counts = module.metric.compute(seq_lengths.reshape([-1]).numpy(), preds, metric_labels)
        module.metric.update(*(int(t.numpy().reshape([-1])[0]) for t in counts))  # [1]-arrays break numpy 2
        return probs, loss, {"f1_score": float(module.metric.accumulate()[2])}

    def step(self, module, batch):
        return module(input_ids=batch[0], token_type_ids=batch[1], seq_lengths=batch[2], labels=batch[3])

    def start_train_step(self, module) -> None:
        module.metric.reset()  # per-batch F1 in the training log, as the official module

    def start_validation_step(self, module, batch_idx: int) -> None:
        if batch_idx == 0:
            module.metric.reset()
            self.eval_seen, self.eval_f1 = 0, 0.0

    def validation_metrics(self, module, batch, metrics):
        # hub.Trainer.evaluate reports sum(value * batch) / N; this batch's share makes that the set's F1
        size = int(batch[0].shape[0])
        f1 = metrics["f1_score"]
        share = (f1 * (self.eval_seen + size) - self.eval_f1 * self.eval_seen) / size
        self.eval_seen, self.eval_f1 = self.eval_seen + size, f1
        return {"f1_score": share}

    def decode(self, module, out, lengths):
        labels = [[module.label_map[int(j)] for j in out[i, :n].argmax(-1)] for i, n in enumerate(lengths)]
        return labels, [out[i, :n].tolist() for i, n in enumerate(lengths)]

    def served(self, results):
        return [labels[1:-1] for labels in results]


class QA(HubTask):
    """Span extraction; items ``[question, context]``, decoded by the fine-tuning pipeline (``hub/qa.py``)."""

    name = "qa"
    batch_layout = "(input_ids, token_type_ids, start_positions, end_positions)"
    batch_fields = (4,)
    texts_per_item = 2
    item_shape = "[question, context]"

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp

        from ..modeling.heads import ElectraForSeedQA

        module.model = module.pretrained(ElectraForSeedQA if module.head == "seed" else nlp.ElectraForQuestionAnswering,
                                         **kwargs)

    def forward(self, module, inputs):
        args = (inputs["input_ids"], inputs["token_type_ids"], inputs["position_ids"], inputs["attention_mask"])
        starts, ends = inputs["start_positions"], inputs["end_positions"]
        if module.head == "seed":
            if starts is None:  # beam: start log-probs/indices [B,k], end log-probs/indices [B,k,k]
                return module.model(*args)[:4]
            loss, start_logits, end_logits = module.model(*args, starts, ends)
        else:
            start_logits, end_logits = module.model(*args)
            if starts is None:
                return start_logits, end_logits
            loss = (F.cross_entropy(start_logits, starts.reshape([-1]))
                    + F.cross_entropy(end_logits, ends.reshape([-1]))) / 2.0
        hit = (start_logits.argmax(axis=-1) == starts.reshape([-1])) & (
            end_logits.argmax(axis=-1) == ends.reshape([-1]))
        return (start_logits, end_logits), loss, {"span_acc": float(hit.astype("float32").mean())}

    def step(self, module, batch):
        return module(input_ids=batch[0], token_type_ids=batch[1], start_positions=batch[2], end_positions=batch[3])

    def predict_batch(self, module, items, max_seq_len, split_char, top_k, fast=None):
        from . import qa as spans

        return spans.predict(module, items, max_seq_len)

    def static_length(self, module):
        # the seed QA head's beam (top-k over positions) needs a static length: pad inputs to max_position
        return module.max_position if module.head == "seed" else None


class PretrainingHead(HubTask):
    """A pretraining head used as it is: the model directory must hold that half (``role``)."""

    role = "discriminator"
    model_class = "ElectraDiscriminator"  # of paddlenlp.transformers

    def build(self, module, kwargs):
        import paddlenlp.transformers as nlp

        module.require_role(self.name, self.role)
        module.model = module.pretrained(getattr(nlp, self.model_class), **kwargs)


class RTD(PretrainingHead):
    """Replaced-token detection with a discriminator: per token, the probability it was replaced."""

    name = "rtd"
    batch_layout = "(input_ids, token_type_ids, labels[B, L] with 1 = replaced, -100 = ignore)"

    def forward(self, module, inputs):
        hidden = module.model.electra(inputs["input_ids"], inputs["token_type_ids"], inputs["position_ids"],
                                      inputs["attention_mask"])
        logits = rtd_logits(module.model.discriminator_predictions, hidden)  # not its squeezing forward
        probs = F.sigmoid(logits)
        labels = inputs["labels"]
        if labels is None:
            return probs
        keep = (labels != IGNORE).astype(logits.dtype)
        loss = (F.binary_cross_entropy_with_logits(logits, paddle.clip(labels, 0, 1).astype(logits.dtype),
                                                   reduction="none") * keep).sum() / keep.sum().clip(min=1.0)
        return probs, loss, {"acc": accuracy((probs > 0.5).astype(labels.dtype), labels)}

    def predict_batch(self, module, items, max_seq_len, split_char, top_k, fast=None):
        from ..inference import detect_replaced

        scored = detect_replaced(module.model_dir, [t[0] for t in items], max_seq_len=max_seq_len,
                                 model=module.model, tokenizer=module.tokenizer)
        results = [[{"token": s.token, "replaced_prob": s.replaced_prob} for s in row] for row in scored]
        return results, [[s.replaced_prob for s in row] for row in scored]


class FillMask(PretrainingHead):
    """The generator's masked-LM: ``top_k`` tokens per ``[MASK]``."""

    name = "fill-mask"
    batch_layout = "(input_ids, token_type_ids, labels[B, L] with token ids at masked positions, -100 elsewhere)"
    role = "generator"
    model_class = "ElectraGenerator"

    def forward(self, module, inputs):
        logits = module.model(inputs["input_ids"], inputs["token_type_ids"], inputs["position_ids"],
                              inputs["attention_mask"])  # [B, L, V]
        probs = F.softmax(logits, axis=-1)
        labels = inputs["labels"]
        if labels is None:
            return probs
        loss = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), labels.reshape([-1]), ignore_index=IGNORE)
        return probs, loss, {"acc": accuracy(probs.argmax(axis=-1), labels)}

    def predict_batch(self, module, items, max_seq_len, split_char, top_k, fast=None):
        from ..inference import fill_mask

        predicted = fill_mask(module.model_dir, [t[0] for t in items], top_k=top_k, max_seq_len=max_seq_len,
                              model=module.model, tokenizer=module.tokenizer)
        results = [[[{"token": tok, "prob": p} for tok, p in m.candidates] for m in row] for row in predicted]
        return results, [[[p for _, p in m.candidates] for m in row] for row in predicted]


def task_for(task: str | None, matching: str) -> HubTask:
    """The task object for a (validated) task name and matching mode."""
    if task == "text-matching":
        return TextMatchingCross() if matching == "cross" else TextMatchingSiamese()
    for cls in (Embedding, SeqCls, TokenCls, QA, RTD, FillMask):
        if cls.name == task:
            return cls()
    raise ConfigError(f"unknown hub task {task!r}")
