"""Span extraction for the hub ``qa`` task: question/context windows, training targets and answer decoding.

Features are built as the seed builds them (``[CLS] question [SEP] context-window [SEP]``, question at most
``max_query_len`` tokens, windows ``doc_stride`` tokens apart) so a long context is read window by window and
the best span over all windows wins. Character offsets come from the tokenizer's offset mapping, so the answer
is always a slice of the caller's context string, whatever the tokenizer lower-cased or split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import paddle

from ..errors import ConfigError, DataError

# ymcui/Chinese-ELECTRA configure_finetuning.py defaults for cmrc2018/drcd (see tasks/registry.py)
MAX_QUERY_LEN = 64
DOC_STRIDE = 128
N_BEST = 20
MAX_ANSWER_LEN = 30


@dataclass
class SpanFeature:
    """One window of one example; ``char_spans[i]`` is the context slice of token ``i`` (context tokens only)."""

    example: int
    input_ids: list[int]
    token_type_ids: list[int]
    char_spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    start_position: int = 0  # 0 ([CLS]) when the answer is not inside this window
    end_position: int = 0


def _context_tokens(tokenizer, context: str) -> tuple[list[int], list[tuple[int, int]]]:
    encoded = tokenizer(context, return_offsets_mapping=True, add_special_tokens=False)
    return list(encoded["input_ids"]), [tuple(span) for span in encoded["offset_mapping"]]


def featurize(tokenizer, question: str, context: str, max_seq_len: int, example: int = 0,
              answer: tuple[int, int] | None = None, doc_stride: int = DOC_STRIDE,
              max_query_len: int = MAX_QUERY_LEN) -> list[SpanFeature]:
    """Windows over ``context`` for one question; ``answer`` = (char start, char end) sets training targets."""
    if not isinstance(question, str) or not question.strip() or not isinstance(context, str) or not context.strip():
        raise ConfigError("qa input must be [question, context] with two non-empty strings")
    q_ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(question)[:max_query_len])
    ctx_ids, offsets = _context_tokens(tokenizer, context)
    window = max_seq_len - len(q_ids) - 3
    if window < 1:
        raise ConfigError(f"max_seq_len {max_seq_len} leaves no room for the context after a {len(q_ids)}-token "
                          "question; raise max_seq_len or shorten the question")
    cls_id, sep_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    answer_tokens = None
    if answer is not None:
        a_start, a_end = answer
        inside = [i for i, (s, e) in enumerate(offsets) if e > a_start and s < a_end]
        answer_tokens = (inside[0], inside[-1]) if inside else None
    features, start = [], 0
    while True:
        chunk = range(start, min(start + window, len(ctx_ids)))
        prefix = len(q_ids) + 2
        feature = SpanFeature(
            example,
            [cls_id, *q_ids, sep_id, *(ctx_ids[i] for i in chunk), sep_id],
            [0] * prefix + [1] * (len(chunk) + 1),
            {prefix + j: offsets[i] for j, i in enumerate(chunk)},
        )
        if answer_tokens and chunk.start <= answer_tokens[0] and answer_tokens[1] < chunk.stop:
            feature.start_position = prefix + answer_tokens[0] - chunk.start
            feature.end_position = prefix + answer_tokens[1] - chunk.start
        features.append(feature)
        if chunk.stop >= len(ctx_ids):
            return features
        start += min(doc_stride, window)


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


def candidates_from_beam(start_log_probs: np.ndarray, start_index: np.ndarray, end_log_probs: np.ndarray,
                         end_index: np.ndarray) -> list[tuple[float, int, int]]:
    """(log score, start, end) from the seed head's beam: top-k starts, and top-k ends for each start."""
    out = []
    for i, start in enumerate(start_index):
        for j, end in enumerate(end_index[i]):
            out.append((float(start_log_probs[i] + end_log_probs[i, j]), int(start), int(end)))
    return out


def candidates_from_logits(start_logits: np.ndarray, end_logits: np.ndarray,
                           n_best: int = N_BEST) -> list[tuple[float, int, int]]:
    """(log score, start, end) from independent start/end logits (PaddleNLP's Linear(H, 2) head)."""

    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x - x.max()
        return x - np.log(np.exp(x).sum())

    start_lp, end_lp = log_softmax(start_logits), log_softmax(end_logits)
    starts, ends = np.argsort(-start_lp)[:n_best], np.argsort(-end_lp)[:n_best]
    return [(float(start_lp[s] + end_lp[e]), int(s), int(e)) for s in starts for e in ends]


def best_span(context: str, features: Sequence[SpanFeature], candidates: Sequence[Sequence[tuple[float, int, int]]],
              max_answer_len: int = MAX_ANSWER_LEN) -> Span:
    """The highest-scoring valid span over all windows of one example (inside the context, start <= end)."""
    best: tuple[float, int, int] | None = None
    for feature, cands in zip(features, candidates):
        for score, start, end in cands:
            if start not in feature.char_spans or end not in feature.char_spans:
                continue
            if end < start or end - start + 1 > max_answer_len:
                continue
            char_start, char_end = feature.char_spans[start][0], feature.char_spans[end][1]
            if best is None or score > best[0]:
                best = (score, char_start, char_end)
    if best is None:
        return NO_ANSWER
    score, char_start, char_end = best
    text = context[char_start:char_end]
    stripped = text.strip()  # offsets of words may carry the following space
    char_start += len(text) - len(text.lstrip())
    return Span(stripped, char_start, char_start + len(stripped), float(np.exp(score)))


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
        self.features: list[SpanFeature] = []
        for i, example in enumerate(examples):
            question, context, answer = _example_fields(example)
            self.features += featurize(tokenizer, question, context, max_seq_len, i, answer, doc_stride,
                                       max_query_len)

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
