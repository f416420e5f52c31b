"""Span-extraction QA (CMRC2018, DRCD) features and post-processing, as the seed's ``finetune/qa`` does it.

Featurization follows ymcui/Chinese-ELECTRA ``QATask._add_examples`` / ``featurize`` (a fork of
google-research/electra): the context is split on whitespace only (``" \\t\\r\\n"`` and U+202F), each
whitespace "word" is WordPiece-tokenized, the answer's word span is narrowed with ``_improve_answer_span``,
and the document is cut into windows of ``max_seq_length - len(query) - 3`` tokens every ``doc_stride``
tokens, laid out as ``[CLS] query [SEP] doc [SEP]`` with token types 0 … 0 1 … 1. A token seen by several
windows is scored only in its "max context" window (``_check_is_max_context``).

Post-processing follows ``SpanBasedQAScorer.write_predictions`` with ``joint_prediction=True``: every
(start beam i, end beam j) pair of the head is a candidate scored ``start_log_prob[i] + end_log_prob[i, j]``;
candidates outside the document part, ending before they start, longer than ``max_answer_length`` tokens or
starting on a token that is not max-context in that window are dropped; the best ``n_best_size`` distinct
texts are kept and their probabilities are a softmax over those scores.

Where we deliberately differ from the seed (each is a seed bug or crash, none changes a correct answer):

* Answer text. The seed maps a span back with ``get_final_text`` (re-tokenize the whitespace word and align
  the de-tokenized pieces). Chinese paragraphs are one huge "word", and any span containing ``[UNK]`` (a
  character missing from the vocab, or an English word such as ``iPhone`` split off as unknown) fails that
  alignment, so the seed returns the *whole whitespace word*, often the whole paragraph. We keep each
  token's character offsets in the context instead and return ``context[char_start:char_end]``: always an
  exact substring, with original case, full-width forms and unknown characters intact.
* Missing results. The seed raises ``KeyError: 3200000`` (ymcui/Chinese-ELECTRA#50, #72) when a feature has
  no model output, e.g. because the last partial eval batch was dropped, and ``1000 * eid + span`` ids can
  also collide. Our ``unique_id`` is a plain running counter, and :func:`postprocess_qa` checks up front that
  every feature has a result and, if not, says how many are missing and the likely cause.
* No valid span at all: the seed predicts the placeholder text ``"empty"``; we predict ``""``. Both score 0.
* Guard rails for settings the seed loops forever on (a window of <= 0 document tokens, ``doc_stride < 1``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from paddle_electra.errors import DataError, InputError, SettingError, WrongTokenizerError
from paddle_electra.numeric import softmax
from paddle_electra.tasks.readers import QAExample

logger = logging.getLogger("paddle_electra.tasks")

__all__ = [
    "QAFeature",
    "RESULT_FIELDS",
    "check_is_max_context",
    "collate_qa",
    "featurize_qa",
    "improve_answer_span",
    "postprocess_qa",
    "split_whitespace_words",
    "write_predictions",
]

AnswerSpanMode = Literal["seed", "offsets"]
RESULT_FIELDS = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "answerable_logit")
FIRST_UNIQUE_ID = 1_000_000_000  # as google-research/bert's run_squad: never confusable with an example index
PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"


# ----------------------------------------------------------------------------------------------------
# Data classes
# ----------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class QAFeature:
    """One window of one example: the model input plus what post-processing needs to map spans back.

    Token positions are indices into ``tokens`` (= into ``input_ids``). ``token_to_orig_map`` and
    ``token_is_max_context`` are the seed's (doc tokens only); ``token_to_char`` gives each doc token's
    ``[start, end)`` character offsets in the example's context, so answers are exact context substrings.
    ``start_position``/``end_position`` are set only for training features (0/0 = [CLS] when the answer is
    not inside this window, as the seed).
    """

    example_index: int
    unique_id: int
    doc_span_index: int
    qid: str
    tokens: list[str]
    token_to_orig_map: dict[int, int]
    token_is_max_context: dict[int, bool]
    token_to_char: dict[int, tuple[int, int]]
    input_ids: list[int]
    token_type_ids: list[int]
    start_position: int | None = None
    end_position: int | None = None
    is_impossible: bool = False


@dataclass
class _Doc:
    """A tokenized context: whitespace words, WordPiece tokens and their word/character alignment."""

    words: list[tuple[int, int]]  # [start, end) character span of each whitespace word
    char_to_word: list[int]  # the seed's char_to_word_offset (-1 before the first word)
    tokens: list[str]
    tok_to_word: list[int]
    tok_to_char: list[tuple[int, int]]
    word_to_first_tok: list[int]  # the seed's orig_to_tok_index
    n_fallback_words: int = 0


# ----------------------------------------------------------------------------------------------------
# Whitespace words and token → character alignment
# ----------------------------------------------------------------------------------------------------
def _is_seed_whitespace(ch: str) -> bool:
    """The seed's ``is_whitespace``: only these split words (so U+3000 or U+00A0 stay inside a word)."""
    return ch in (" ", "\t", "\r", "\n") or ord(ch) == 0x202F


def split_whitespace_words(context: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Whitespace "words" as ``[start, end)`` spans, and the seed's char → word index map.

    A whitespace character maps to the word before it (-1 before the first word), exactly as the seed's
    ``char_to_word_offset``; answer offsets are converted with it.
    """
    words: list[tuple[int, int]] = []
    char_to_word: list[int] = []
    prev_ws = True
    for i, ch in enumerate(context):
        if _is_seed_whitespace(ch):
            prev_ws = True
        else:
            if prev_ws:
                words.append((i, i + 1))
            else:
                words[-1] = (words[-1][0], i + 1)
            prev_ws = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def _is_bert_whitespace(ch: str) -> bool:
    return ch in (" ", "\t", "\n", "\r") or unicodedata.category(ch) == "Zs"


def _is_bert_removed(ch: str) -> bool:
    """Characters BERT's ``_clean_text`` deletes: NUL, U+FFFD and control/format characters (not \\t\\n\\r)."""
    cp = ord(ch)
    if cp == 0 or cp == 0xFFFD:
        return True
    return ch not in ("\t", "\n", "\r") and unicodedata.category(ch).startswith("C")


def _fold(text: str) -> str:
    """Compare normalized text modulo context-dependent lower-casing (final sigma) and special-token case."""
    return text.lower().replace("ς", "σ")


class _WordAligner:
    """Tokenizes one whitespace word exactly as ``tokenizer.tokenize`` does and gives each piece its chars.

    PaddleNLP's ``tokenize`` lower-cases char by char, then the basic tokenizer lower-cases, strips accents
    (NFD, drop Mn), deletes control characters and splits on whitespace / punctuation / CJK characters;
    WordPiece then splits each basic token, or replaces the whole basic token by [UNK]. We rebuild the
    normalized character stream with a map back to the original characters, match the basic tokens against
    it in order, and split each one by its pieces' lengths.
    """

    def __init__(self, tokenizer: Any) -> None:
        basic = getattr(tokenizer, "basic_tokenizer", None)
        wordpiece = getattr(tokenizer, "wordpiece_tokenizer", None)
        if basic is None or wordpiece is None or not getattr(tokenizer, "do_basic_tokenize", True):
            raise WrongTokenizerError(
                f"{type(tokenizer).__name__}: QA featurization needs a BERT-style tokenizer (basic + WordPiece, "
                "e.g. paddlenlp ElectraTokenizer) to map tokens back to characters"
            )
        self.tokenizer = tokenizer
        self.basic = basic
        self.wordpiece = wordpiece
        self.unk = tokenizer.unk_token
        self.special = list(getattr(tokenizer, "all_special_tokens", []))
        keep = [*getattr(tokenizer, "unique_no_split_tokens", []), *self.special]
        self.keep_case = re.compile("(" + "|".join(re.escape(t) for t in keep) + ")") if keep else None
        self.lower = bool(getattr(basic, "do_lower_case", True))
        strip = getattr(basic, "strip_accents", None)
        self.strip_accents = (self.lower and strip is not False) or (not self.lower and bool(strip))

    def _pre_lower(self, word: str) -> str:
        """PaddleNLP's ``tokenize`` lower-cases char by char (special-token strings excepted) before the
        basic tokenizer runs, so e.g. a word-final capital sigma becomes σ, not ς."""
        if not self.lower:
            return word
        if self.keep_case is None:
            return "".join(c.lower() for c in word)
        parts = self.keep_case.split(word)
        return "".join(p if k % 2 else "".join(c.lower() for c in p) for k, p in enumerate(parts))

    def _normalize(self, ch: str) -> str:
        if self.lower:
            ch = ch.lower()
        if self.strip_accents:
            ch = "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn")
        return ch

    def tokenize(self, word: str, offset: int) -> tuple[list[str], list[tuple[int, int]], bool]:
        """(pieces, absolute [start, end) char spans, aligned?) for a word starting at ``offset``."""
        expected = self.tokenizer.tokenize(word)
        aligned = self._align(word, offset, expected)
        if aligned is not None:
            return expected, aligned, True
        # Could not align (should not happen with BERT-style tokenizers): every piece gets the whole word,
        # which is what the seed's get_final_text falls back to as well.
        return expected, [(offset, offset + len(word))] * len(expected), False

    def _align(self, word: str, offset: int, expected: list[str]) -> list[tuple[int, int]] | None:
        stream: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(word):
            if _is_bert_removed(ch) or _is_bert_whitespace(ch):
                continue
            for c in self._normalize(ch):
                stream.append(c)
                origin.append(i)
        folded = _fold("".join(stream))
        if len(folded) != len(stream):
            return None
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for basic_token in self.basic.tokenize(self._pre_lower(word), never_split=self.special):
            if basic_token in self.basic.never_split:
                sub = [basic_token]
            else:
                sub = self.wordpiece.tokenize(basic_token)
            n = len(basic_token)
            if folded[pos : pos + n] != _fold(basic_token):
                return None
            if sub == [self.unk] and basic_token != self.unk:
                lengths = [n]
            else:
                lengths = [len(p) - 2 if k > 0 and p.startswith("##") else len(p) for k, p in enumerate(sub)]
                if sum(lengths) != n or min(lengths, default=0) < 1:
                    return None
            for piece, length in zip(sub, lengths):
                pieces.append(piece)
                spans.append((offset + origin[pos], offset + origin[pos + length - 1] + 1))
                pos += length
        if pos != len(stream) or pieces != expected:
            return None
        return spans


def _tokenize_context(context: str, aligner: _WordAligner) -> _Doc:
    words, char_to_word = split_whitespace_words(context)
    doc = _Doc(words, char_to_word, [], [], [], [])
    for w, (start, end) in enumerate(words):
        doc.word_to_first_tok.append(len(doc.tokens))
        pieces, spans, ok = aligner.tokenize(context[start:end], start)
        if not ok:
            doc.n_fallback_words += 1
        doc.tokens.extend(pieces)
        doc.tok_to_word.extend([w] * len(pieces))
        doc.tok_to_char.extend(spans)
    return doc


# ----------------------------------------------------------------------------------------------------
# The seed's helpers
# ----------------------------------------------------------------------------------------------------
def improve_answer_span(
    doc_tokens: Sequence[str], input_start: int, input_end: int, answer_tokens: Sequence[str]
) -> tuple[int, int]:
    """The seed's ``_improve_answer_span``: the first sub-span of [start, end] whose tokens equal the answer's.

    The seed compares ``" ".join`` of every (start, end) pair, O(n^3) on a Chinese paragraph; since tokens
    never contain spaces that is the same as comparing token lists, and only ``end = start + len - 1`` can
    match, so this scans starts in the same order in O(n * len). No match: the input span is kept.
    """
    m = len(answer_tokens)
    if m == 0:
        return input_start, input_end
    answer = list(answer_tokens)
    for s in range(input_start, input_end - m + 2):
        if list(doc_tokens[s : s + m]) == answer:
            return s, s + m - 1
    return input_start, input_end


def check_is_max_context(doc_spans: Sequence[tuple[int, int]], cur_span_index: int, position: int) -> bool:
    """The seed's ``_check_is_max_context`` for (start, length) spans; first best span wins ties."""
    return _best_span(doc_spans, position) == cur_span_index


def _best_span(doc_spans: Sequence[tuple[int, int]], position: int) -> int | None:
    best_score: float | None = None
    best_index = None
    for index, (start, length) in enumerate(doc_spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score = score
            best_index = index
    return best_index


def _doc_spans(n_tokens: int, max_tokens_for_doc: int, doc_stride: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n_tokens:
        length = min(n_tokens - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length == n_tokens:
            break
        start += min(length, doc_stride)
    return spans


# ----------------------------------------------------------------------------------------------------
# Training labels
# ----------------------------------------------------------------------------------------------------
def _answer_tokens_seed(example: QAExample, doc: _Doc, tokenizer: Any, skipped: Counter[str]) -> tuple[int, int] | None:
    """Gold token span as the seed computes it: char offset → whitespace words → tokens → improve.

    ``None`` = the seed would skip this example (answer runs past the context, or its text is not found in
    the answer's word range).
    """
    answer = example.answers[0]
    context = example.context
    last_char = answer.start + len(answer.text) - 1
    if answer.start < 0 or not answer.text or last_char >= len(context):
        skipped["answer outside the context"] += 1
        return None
    start_word = max(doc.char_to_word[answer.start], 0)
    end_word = max(doc.char_to_word[last_char], 0)
    if not doc.words:
        skipped["empty context"] += 1
        return None
    actual = " ".join(context[s:e] for s, e in doc.words[start_word : end_word + 1]).lower()
    cleaned = " ".join(answer.text.split()).lower()
    if actual.find(cleaned) == -1:
        skipped["answer text not at answer_start"] += 1
        return None
    tok_start = doc.word_to_first_tok[start_word]
    if end_word < len(doc.words) - 1:
        tok_end = doc.word_to_first_tok[end_word + 1] - 1
    else:
        tok_end = len(doc.tokens) - 1
    if tok_end < tok_start:  # the answer's words produced no tokens at all
        skipped["answer has no tokens"] += 1
        return None
    return improve_answer_span(doc.tokens, tok_start, tok_end, tokenizer.tokenize(answer.text))


def _answer_tokens_offsets(
    example: QAExample, doc: _Doc, tokenizer: Any, skipped: Counter[str]
) -> tuple[int, int] | None:
    """Gold token span from character offsets: the doc tokens overlapping the annotated characters.

    Unlike the seed this keeps the annotated occurrence when the answer text occurs several times in the
    same whitespace word (common in Chinese). Falls back to the seed's rule when the text is not at
    ``answer_start``.
    """
    answer = example.answers[0]
    start, end = answer.start, answer.start + len(answer.text)
    if start < 0 or example.context[start:end] != answer.text:
        return _answer_tokens_seed(example, doc, tokenizer, skipped)
    inside = [t for t, (s, e) in enumerate(doc.tok_to_char) if s < end and e > start]
    if not inside:
        skipped["answer has no tokens"] += 1
        return None
    return inside[0], inside[-1]


# ----------------------------------------------------------------------------------------------------
# Featurization
# ----------------------------------------------------------------------------------------------------
def _check_window_settings(doc_stride: int, max_query_length: int, answer_span: str) -> None:
    if doc_stride < 1:
        raise SettingError(f"doc_stride must be >= 1, got {doc_stride}")
    if max_query_length < 1:
        raise SettingError(f"max_query_length must be >= 1, got {max_query_length}")
    if answer_span not in ("seed", "offsets"):
        raise SettingError(f"answer_span must be 'seed' or 'offsets', got {answer_span!r}")


def _window_feature(tokenizer: Any, example: QAExample, example_index: int, unique_id: int, query: list[str],
                    doc: _Doc, span_index: int, span: tuple[int, int], best: list[int],
                    gold: tuple[int, int] | None) -> QAFeature:
    """``[CLS] query [SEP] window [SEP]`` for one window of the document, with its maps back to the context."""
    span_start, span_length = span
    cls_token, sep_token = tokenizer.cls_token, tokenizer.sep_token
    tokens = [cls_token, *query, sep_token]
    token_type_ids = [0] * len(tokens)
    to_orig: dict[int, int] = {}
    is_max: dict[int, bool] = {}
    to_char: dict[int, tuple[int, int]] = {}
    for t in range(span_start, span_start + span_length):
        pos = len(tokens)
        to_orig[pos] = doc.tok_to_word[t]
        is_max[pos] = best[t] == span_index
        to_char[pos] = doc.tok_to_char[t]
        tokens.append(doc.tokens[t])
    tokens.append(sep_token)
    token_type_ids += [1] * (span_length + 1)
    start_position = end_position = None
    if gold is not None:  # the answer's tokens inside this window, else [CLS] (position 0)
        doc_offset = len(query) + 2
        if span_start <= gold[0] and gold[1] <= span_start + span_length - 1:
            start_position, end_position = gold[0] - span_start + doc_offset, gold[1] - span_start + doc_offset
        else:
            start_position = end_position = 0
    return QAFeature(example_index=example_index, unique_id=unique_id, doc_span_index=span_index, qid=example.qid,
                     tokens=tokens, token_to_orig_map=to_orig, token_is_max_context=is_max, token_to_char=to_char,
                     input_ids=list(tokenizer.convert_tokens_to_ids(tokens)), token_type_ids=token_type_ids,
                     start_position=start_position, end_position=end_position, is_impossible=False)


def _log_featurize_notes(skipped: Counter[str], n_examples: int, fallback_words: int) -> None:
    if skipped:
        logger.warning(
            "featurize_qa: %d of %d training examples skipped, as the seed skips them: %s",
            sum(skipped.values()),
            n_examples,
            "; ".join(f"{reason} {n}" for reason, n in skipped.items()),
        )
    if fallback_words:
        logger.warning(
            "featurize_qa: %d whitespace words could not be aligned character by character; answers inside "
            "them map to the whole word (as the seed's get_final_text does)",
            fallback_words,
        )


def featurize_qa(
    examples: Sequence[QAExample],
    tokenizer: Any,
    max_seq_length: int = 512,
    doc_stride: int = 128,
    max_query_length: int = 64,
    is_training: bool = False,
    *,
    answer_span: AnswerSpanMode = "seed",
) -> list[QAFeature]:
    """Sliding-window features for every example, in example order (the seed's ``featurize``).

    Features are not padded (see :func:`collate_qa`). Training uses ``answers[0]``; an example the seed
    would drop ("Could not find answer", answer past the end) yields no features and is counted in a log
    line. ``answer_span="seed"`` labels the answer as the seed does (first matching occurrence within the
    answer's whitespace word, via ``_improve_answer_span``); ``"offsets"`` labels the annotated occurrence.
    """
    _check_window_settings(doc_stride, max_query_length, answer_span)
    aligner = _WordAligner(tokenizer)
    label = _answer_tokens_seed if answer_span == "seed" else _answer_tokens_offsets
    docs: dict[str, _Doc] = {}  # several questions share a paragraph
    features: list[QAFeature] = []
    skipped: Counter[str] = Counter()
    fallback_words = 0

    for example_index, example in enumerate(examples):
        doc = docs.get(example.context)
        if doc is None:
            doc = docs[example.context] = _tokenize_context(example.context, aligner)
            fallback_words += doc.n_fallback_words
        query = tokenizer.tokenize(example.question)[:max_query_length]
        max_tokens_for_doc = max_seq_length - len(query) - 3  # [CLS] q [SEP] doc [SEP]
        if max_tokens_for_doc < 1:
            raise SettingError(
                f"max_seq_length {max_seq_length} leaves no room for the document after a {len(query)}-token "
                f"question (qid {example.qid!r}); use max_seq_length > max_query_length + 3"
            )
        gold: tuple[int, int] | None = None
        if is_training:
            if not example.answers:
                raise DataError(f"training example {example.qid!r} has no answer (CMRC2018/DRCD are SQuAD v1)")
            gold = label(example, doc, tokenizer, skipped)
            if gold is None:
                continue

        spans = _doc_spans(len(doc.tokens), max_tokens_for_doc, doc_stride)
        best = [_best_span(spans, p) for p in range(len(doc.tokens))]
        for span_index, span in enumerate(spans):
            features.append(_window_feature(tokenizer, example, example_index, FIRST_UNIQUE_ID + len(features),
                                            query, doc, span_index, span, best, gold))
    _log_featurize_notes(skipped, len(examples), fallback_words)
    return features


def collate_qa(features: Sequence[QAFeature], is_training: bool, pad_id: int = 0) -> dict[str, np.ndarray]:
    """Pad a batch to its longest window: int64 ``input_ids``, ``token_type_ids``, ``attention_mask``.

    Training adds ``start_positions``, ``end_positions``, ``is_impossible`` (int64 [B]). The keys are the
    QA head's forward argument names, so a training batch can be passed as ``model(**batch)``.
    """
    if not features:
        raise ValueError("collate_qa: empty batch")
    length = max(len(f.input_ids) for f in features)
    batch = len(features)
    input_ids = np.full((batch, length), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((batch, length), dtype=np.int64)
    attention_mask = np.zeros((batch, length), dtype=np.int64)
    for row, f in enumerate(features):
        n = len(f.input_ids)
        input_ids[row, :n] = f.input_ids
        token_type_ids[row, :n] = f.token_type_ids
        attention_mask[row, :n] = 1
    out = {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}
    if is_training:
        if any(f.start_position is None or f.end_position is None for f in features):
            raise ValueError("collate_qa(is_training=True) needs features from featurize_qa(is_training=True)")
        out["start_positions"] = np.array([f.start_position for f in features], dtype=np.int64)
        out["end_positions"] = np.array([f.end_position for f in features], dtype=np.int64)
        out["is_impossible"] = np.array([int(f.is_impossible) for f in features], dtype=np.int64)
    return out


# ----------------------------------------------------------------------------------------------------
# Post-processing
# ----------------------------------------------------------------------------------------------------
def _unpack(result: Any, unique_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(result, Mapping):
        result = [result[k] for k in RESULT_FIELDS[:4]]
    if len(result) < 4:
        raise ValueError(f"result for feature {unique_id}: expected the head's 5 arrays {RESULT_FIELDS}")
    start_lp, start_idx, end_lp, end_idx = (np.asarray(a) for a in result[:4])
    k = start_idx.shape[0] if start_idx.ndim == 1 else -1
    if (
        start_idx.ndim != 1
        or start_lp.shape != (k,)
        or end_idx.ndim != 2
        or end_idx.shape[0] != k
        or end_lp.shape != end_idx.shape
    ):
        raise ValueError(
            f"result for feature {unique_id}: expected start [k], end [k, k] arrays per feature, got shapes "
            f"{start_lp.shape}, {start_idx.shape}, {end_lp.shape}, {end_idx.shape}"
        )
    return start_lp, start_idx, end_lp, end_idx


def _candidate_spans(feats: Sequence[QAFeature], results: Mapping[int, Any],
                     max_answer_length: int) -> list[tuple[Any, Any, Any, int, int, int]]:
    """Every beam span the seed keeps, best first: ``(score, start lp, end lp, feature, start, end)``; a span
    must lie in the window's document part, start in its max-context window and be at most the length limit."""
    prelim: list[tuple[Any, Any, Any, int, int, int]] = []
    for fi, f in enumerate(feats):
        start_lp, start_idx, end_lp, end_idx = _unpack(results[f.unique_id], f.unique_id)
        n_tokens = len(f.tokens)
        for i in range(start_idx.shape[0]):
            s = int(start_idx[i])
            if s >= n_tokens or s == 0 or s not in f.token_to_orig_map:
                continue
            if not f.token_is_max_context.get(s, False):
                continue
            for j in range(end_idx.shape[1]):
                e = int(end_idx[i, j])
                if e >= n_tokens or e not in f.token_to_orig_map or e < s:
                    continue
                if e - s + 1 > max_answer_length:
                    continue
                prelim.append((start_lp[i] + end_lp[i, j], start_lp[i], end_lp[i, j], fi, s, e))
    prelim.sort(key=lambda p: p[0], reverse=True)  # stable: ties keep (feature, i, j) order, as the seed
    return prelim


def _nbest(example: QAExample, feats: Sequence[QAFeature], prelim, n_best_size: int) -> list[dict[str, Any]]:
    """The first ``n_best_size`` distinct answer texts (the seed's nonce "empty" when there is none)."""
    nbest: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _, start_logit, end_logit, fi, s, e in prelim:
        if len(nbest) >= n_best_size:
            break
        f = feats[fi]
        char_start, char_end = f.token_to_char[s][0], f.token_to_char[e][1]
        text = example.context[char_start:char_end]
        if text in seen:
            continue
        seen.add(text)
        nbest.append({"text": text, "start_logit": float(start_logit), "end_logit": float(end_logit),
                      "char_start": char_start, "char_end": char_end})
    if not nbest:  # the seed's nonce "empty"; "" is scored the same and is not a plausible answer
        nbest.append({"text": "", "start_logit": 0.0, "end_logit": 0.0, "char_start": -1, "char_end": -1})
    return nbest


def postprocess_qa(
    examples: Sequence[QAExample],
    features: Sequence[QAFeature],
    results: Mapping[int, Any],
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """Best answer and n-best list per qid from the joint head's beams (the seed's ``write_predictions``).

    ``results`` maps ``unique_id`` → the head's 5 per-feature arrays (or a dict with :data:`RESULT_FIELDS`
    keys). Each n-best entry has ``text`` (an exact substring of the context), ``probability`` (softmax over
    the n-best scores), ``start_logit``/``end_logit`` (the beam log-probabilities, as the seed names them)
    and ``char_start``/``char_end`` (``[start, end)`` in the context; -1 for the no-span placeholder).
    """
    if n_best_size < 1 or max_answer_length < 1:
        raise SettingError("n_best_size and max_answer_length must be >= 1")
    missing = [f.unique_id for f in features if f.unique_id not in results]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", …" if len(missing) > 5 else "")
        raise InputError(
            f"postprocess_qa: {len(missing)} of {len(features)} features have no model result (unique_id "
            f"{shown}); every window must be run through the model (no drop_last / dropped partial batch) "
            "with the same features that are passed here"
        )
    by_example: dict[int, list[QAFeature]] = {}
    for f in features:
        if not 0 <= f.example_index < len(examples):
            raise InputError(f"feature {f.unique_id} points at example {f.example_index}, not in the examples")
        by_example.setdefault(f.example_index, []).append(f)

    predictions: dict[str, str] = {}
    all_nbest: dict[str, list[dict[str, Any]]] = {}
    for example_index, example in enumerate(examples):
        if example.qid in predictions:
            raise DataError(f"duplicate question id {example.qid!r}")
        feats = by_example.get(example_index, [])
        nbest = _nbest(example, feats, _candidate_spans(feats, results, max_answer_length), n_best_size)
        probs = softmax([entry["start_logit"] + entry["end_logit"] for entry in nbest]).tolist()
        all_nbest[example.qid] = [{"text": entry["text"], "probability": prob, **{k: entry[k] for k in (
            "start_logit", "end_logit", "char_start", "char_end")}} for entry, prob in zip(nbest, probs)]
        predictions[example.qid] = nbest[0]["text"]
    return predictions, all_nbest


# ----------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _atomic_write_json(path: Path, obj: Any) -> None:
    from paddle_electra.fs import atomic_file

    with atomic_file(path, encoding="utf-8") as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, default=_json_default)
        handle.write("\n")


def write_predictions(
    out_dir: str | os.PathLike[str],
    predictions: Mapping[str, str],
    nbest: Mapping[str, Sequence[Mapping[str, Any]]],
) -> tuple[Path, Path]:
    """Write ``predictions.json`` (qid → answer, what the official evaluator reads) and ``nbest_predictions.json``.

    UTF-8 with ``ensure_ascii=False``; each file is written to a temporary file and ``os.replace``-d, so an
    interrupted run never leaves a half-written file. The two file names are fixed: question ids are only
    ever JSON keys, never part of a path, whatever characters they contain (``/``, ``..``); ids must be
    non-empty strings and both mappings must have the same ids.
    """
    for qid, answer in predictions.items():
        if not isinstance(qid, str) or not qid:
            raise InputError(f"write_predictions: question ids must be non-empty strings, got {qid!r}")
        if not isinstance(answer, str):
            raise InputError(f"write_predictions: answer for {qid!r} must be a string, got {type(answer).__name__}")
    if set(predictions) != set(nbest):
        extra = sorted(set(predictions) ^ set(nbest))[:5]
        raise InputError(f"write_predictions: predictions and n-best lists have different question ids: {extra}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred_path, nbest_path = out / PREDICTIONS_FILE, out / NBEST_FILE
    _atomic_write_json(pred_path, dict(predictions))
    _atomic_write_json(nbest_path, {qid: [dict(e) for e in entries] for qid, entries in nbest.items()})
    return pred_path, nbest_path
