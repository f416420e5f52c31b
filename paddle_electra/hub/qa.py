"""Span extraction for the hub ``qa`` task, on the one QA pipeline fine-tuning uses (``tasks/qa_features.py``).

Why one pipeline: the hub module and ``paddle-electra finetune cmrc2018`` must give the same answer for the same
weights and input. Both featurize with the seed's aligner and windows (``featurize_qa``: ``[CLS] question [SEP]
window [SEP]``, ``doc_stride`` apart, each token scored only in its max-context window) and decode with
``postprocess_qa`` (the seed's joint beam). PaddleNLP's independent start/end head is turned into the same beam
layout first, so it is decoded by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import paddle

from ..errors import DataError
from ..tasks.qa_features import QAFeature, featurize_qa, postprocess_qa
from ..tasks.readers import Answer, QAExample
from ..tasks.registry import QA_DEFAULTS

# the seed's cmrc2018/drcd defaults, from the one table (tasks/registry.py)
MAX_QUERY_LEN = QA_DEFAULTS.max_query_length
DOC_STRIDE = QA_DEFAULTS.doc_stride
N_BEST = QA_DEFAULTS.n_best_size
MAX_ANSWER_LEN = QA_DEFAULTS.max_answer_length


@dataclass(frozen=True)
class Span:
    """A decoded answer: ``text == context[start:end]`` and ``score`` is P(start) * P(end | start)."""

    text: str
    start: int
    end: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score}


NO_ANSWER = Span("", -1, -1, 0.0)


def beam_from_logits(start_logits: np.ndarray, end_logits: np.ndarray, k: int = N_BEST) -> tuple[np.ndarray, ...]:
    """PaddleNLP's independent start/end logits as the joint head's beam: top-k starts, and for every start the
    same top-k ends (``start_log_probs [k], start_index [k], end_log_probs [k, k], end_index [k, k]``)."""

    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x.astype("float64") - x.max()
        return x - np.log(np.exp(x).sum())

    start_lp, end_lp = log_softmax(start_logits), log_softmax(end_logits)
    k = min(k, start_lp.shape[0])
    starts, ends = np.argsort(-start_lp)[:k], np.argsort(-end_lp)[:k]
    return start_lp[starts], starts, np.tile(end_lp[ends], (k, 1)), np.tile(ends, (k, 1))


def examples_for(items: Sequence[Sequence[str]]) -> list[QAExample]:
    return [QAExample(f"item-{i}", question, context, ()) for i, (question, context) in enumerate(items)]


def decode(examples: Sequence[QAExample], features: Sequence[QAFeature], results: dict[int, Any],
           max_answer_len: int = MAX_ANSWER_LEN) -> list[Span]:
    """The best span per example, by the seed's post-processing (the same call fine-tuning evaluation makes)."""
    _, nbest = postprocess_qa(examples, features, results, N_BEST, max_answer_len)
    spans = []
    for example in examples:
        best = nbest[example.qid][0]
        if best["char_start"] < 0:
            spans.append(NO_ANSWER)
            continue
        score = float(np.exp(best["start_logit"] + best["end_logit"]))
        spans.append(Span(best["text"], best["char_start"], best["char_end"], score))
    return spans


def _example_fields(example: Any) -> tuple[str, str, tuple[int, int] | None]:
    """(question, context, answer char span) from a dict, a (question, context, text, start) tuple or a QAExample."""
    if isinstance(example, dict):
        question, context = example.get("question"), example.get("context")
        answers = example.get("answers") or ([{"text": example["answer"], "answer_start": example.get("answer_start")}]
                                             if "answer" in example else [])
        first = answers[0] if answers else None
        text = first.get("text") if first else None
        start = first.get("answer_start", first.get("start")) if first else None
    elif hasattr(example, "answers"):
        question, context = example.question, example.context
        text, start = (example.answers[0].text, example.answers[0].start) if example.answers else (None, None)
    else:
        question, context, text, start = (list(example) + [None, None])[:4]
    if not text:
        return question, context, None
    if start is None or start < 0 or context[start:start + len(text)] != text:
        found = context.find(text) if isinstance(context, str) else -1
        if found < 0:
            raise DataError(f"answer {text!r} is not in its context ({str(context)[:30]!r}…)")
        start = found
    return question, context, (start, start + len(text))


class SpanDataset(paddle.io.Dataset):
    """A ``paddle.io.Dataset``-compatible QA training set for ``hub.Trainer`` with ``task='qa'``.

    Items are ``(input_ids, token_type_ids, start_position, end_position)``, padded to ``max_seq_len`` so the
    default collate stacks them. Examples are dicts (``question``, ``context``, ``answers=[{text, answer_start}]``
    or ``answer``/``answer_start``), ``(question, context, answer_text, answer_start)`` tuples, or the task
    readers' ``QAExample``. Every window becomes one item; windows without the answer point at [CLS].
    """

    def __init__(self, examples: Sequence[Any], tokenizer, max_seq_len: int = 128, doc_stride: int = DOC_STRIDE,
                 max_query_len: int = MAX_QUERY_LEN):
        super().__init__()
        self.max_seq_len = max_seq_len
        parsed = []
        for i, example in enumerate(examples):
            question, context, answer = _example_fields(example)
            if answer is None:
                raise DataError(f"qa training example {i} has no answer; give answers=[{{text, answer_start}}]")
            start, end = answer
            parsed.append(QAExample(f"train-{i}", question, context, (Answer(context[start:end], start),)))
        # the annotated occurrence is labelled (the reader already checked it sits at answer_start)
        self.features: list[QAFeature] = featurize_qa(parsed, tokenizer, max_seq_len, doc_stride, max_query_len,
                                                      is_training=True, answer_span="offsets")

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, idx: int):
        feature = self.features[idx]
        ids = np.zeros(self.max_seq_len, dtype="int64")
        types = np.zeros(self.max_seq_len, dtype="int64")
        ids[:len(feature.input_ids)] = feature.input_ids
        types[:len(feature.token_type_ids)] = feature.token_type_ids
        return (ids, types, np.array(feature.start_position, dtype="int64"),
                np.array(feature.end_position, dtype="int64"))


def predict(module, items: list[list[str]], max_seq_len: int) -> tuple[list[dict[str, Any]], list[float]]:
    """``[question, context]`` items -> spans, featurized and decoded as fine-tuning evaluation does."""
    from ..textio import is_blank

    readable = [i for i, (_, context) in enumerate(items) if not is_blank(context)]
    if len(readable) < len(items):  # an empty context has no answer; it never fails the other items
        answered, scores = predict(module, [items[i] for i in readable], max_seq_len) if readable else ([], [])
        results: list[Any] = [NO_ANSWER.as_dict() for _ in items]
        probs: list[Any] = [0.0 for _ in items]
        for k, i in enumerate(readable):
            results[i], probs[i] = answered[k], scores[k]
        return results, probs
    examples = examples_for(items)
    features = featurize_qa(examples, module.tokenizer, max_seq_len, module.doc_stride, MAX_QUERY_LEN)
    ids, types, mask = module.pad([f.input_ids for f in features], [f.token_type_ids for f in features])
    out = [t.numpy() for t in module(input_ids=ids, token_type_ids=types, attention_mask=mask)]
    if module.head == "seed":
        results = {f.unique_id: tuple(o[k] for o in out[:4]) for k, f in enumerate(features)}
    else:
        results = {f.unique_id: beam_from_logits(out[0][k][:len(f.input_ids)], out[1][k][:len(f.input_ids)])
                   for k, f in enumerate(features)}
    decoded = decode(examples, features, results, module.max_answer_len)
    return [span.as_dict() for span in decoded], [span.score for span in decoded]
