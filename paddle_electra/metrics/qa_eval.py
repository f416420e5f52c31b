"""CMRC 2018 / DRCD span-extraction metric: a drop-in for the official evaluation script.

The seed's README reports EM/F1 computed by ``cmrc2018_drcd_evaluate.py`` (identical to ymcui/cmrc2018's
``cmrc2018_evaluate.py`` v5, Python 2 + nltk). Numbers are only comparable with the published ones if every
quirk of that script is kept, so this module mirrors it rule by rule:

* text is ``str(x).lower().strip()``-ed;
* "mixed segmentation": each character in U+4E00..U+9FA5 and each character of the official punctuation
  list is its own segment; runs of any other text are tokenized like ``nltk.word_tokenize`` (see
  :func:`word_tokenize`);
* with ``rm_punc`` the listed punctuation is *deleted* (it does not break an English run: ``covid-19`` →
  ``covid19``); the two-character entry ``'……'`` never equals a single character, so ``…`` is neither a
  segment nor removed, exactly as in the official script;
* F1 uses the longest common *substring* (contiguous) of the segment lists, EM compares the strings after
  punctuation removal, both take the max over the reference answers;
* a question missing from the predictions counts as 0 and increments ``SKIP`` (and ``TOTAL``);
* the output is ``{"AVERAGE", "F1", "EM", "TOTAL", "SKIP", "FILE"}`` with ``'%.3f'`` strings.

Deliberate deviations (the official script crashes in these cases): a question with no reference answers, or a
dataset with no questions, raises :class:`~paddle_electra.errors.DataError` instead of ``ValueError`` /
``ZeroDivisionError``; files may carry a UTF-8 BOM.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paddle_electra.errors import DataError
from paddle_electra.textio import read_json

logger = logging.getLogger("paddle_electra.metrics")

__all__ = [
    "PUNCTUATION",
    "QAScore",
    "calc_em_score",
    "calc_f1_score",
    "evaluate",
    "find_lcs",
    "main",
    "mixed_segmentation",
    "remove_punctuation",
    "score",
    "word_tokenize",
]

# The official list, in the official order. '……' is a two-character string: `char in PUNCTUATION` is never
# true for '…', which the official script therefore keeps (we keep that behaviour on purpose).
PUNCTUATION: tuple[str, ...] = (
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
)  # fmt: skip
_PUNCT_SET = frozenset(p for p in PUNCTUATION if len(p) == 1)
_CJK_RE = re.compile("[\u4e00-\u9fa5]")


# ----------------------------------------------------------------------------------------------------
# nltk.word_tokenize, offline
# ----------------------------------------------------------------------------------------------------
# Rules follow NLTK's ``NLTKWordTokenizer`` (the "improved Treebank" tokenizer behind ``word_tokenize``, NLTK
# 3.8-3.10, Apache-2.0), applied in the same order. Checked token-for-token against NLTK 3.10.4 with
# ``preserve_line=True`` on randomized English/number/punctuation strings (see tests/test_qa_eval.py).
#
# Where this can differ from ``nltk.word_tokenize``:
#  * Sentence splitting. NLTK first runs the trained Punkt model; the only effect on tokens is that a
#    period ending a *sentence* inside the run becomes its own token. We approximate Punkt on the (always
#    lower-cased) input: a whitespace-delimited token ending in a single "." followed by more text ends a
#    sentence unless it is an initial ("j."), a number ("2008."), an ellipsis ("wait...") or in a short
#    abbreviation list. Punkt's learned abbreviation list and collocations are larger, so rare
#    abbreviations can differ ("approx." vs an unlisted one).
#  * Older NLTK (< 3.8, the Python-2 era the official numbers were produced with) lacks the unicode-dash rule
#    (U+2012..U+2015 split off) and the possessive quantifiers; results differ only on such dashes.
_STARTING_QUOTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile("([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCT_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'([^\.])(\.)([\]\)}>"\'»”’ ]*)\s*$'), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile("[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_PARENS = (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ")
_DOUBLE_DASHES = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile("([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_CONTRACTIONS = [
    re.compile(p)
    for p in (
        r"(?i)\b(can)(?#X)(not)\b",
        r"(?i)\b(d)(?#X)('ye)\b",
        r"(?i)\b(gim)(?#X)(me)\b",
        r"(?i)\b(gon)(?#X)(na)\b",
        r"(?i)\b(got)(?#X)(ta)\b",
        r"(?i)\b(lem)(?#X)(me)\b",
        r"(?i)\b(more)(?#X)('n)\b",
        r"(?i)\b(wan)(?#X)(na)(?=\s)",
        r"(?i) ('t)(?#X)(is)\b",
        r"(?i) ('t)(?#X)(was)\b",
    )
]

# Punkt approximation (see above). Abbreviations are compared lower-cased without the final period.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co corp u.s u.k u.n a.m p.m no jan feb mar apr "
    "jun jul aug sep sept oct nov dec mt ft gen gov sen rep lt col capt sgt fig vol pp ed est approx dept "
    "univ".split()
)
_NUMERIC_RE = re.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
_INITIAL_RE = re.compile(r"^[^\W\d]\.$")
_SENT_TOKEN_RE = re.compile(r"\S+")


def _treebank_tokenize(text: str) -> list[str]:
    for rx, sub in _STARTING_QUOTES:
        text = rx.sub(sub, text)
    for rx, sub in _PUNCT_RULES:
        text = rx.sub(sub, text)
    text = _PARENS[0].sub(_PARENS[1], text)
    text = _DOUBLE_DASHES[0].sub(_DOUBLE_DASHES[1], text)
    text = " " + text + " "
    for rx, sub in _ENDING_QUOTES:
        text = rx.sub(sub, text)
    for rx in _CONTRACTIONS:
        text = rx.sub(r" \1 \2 ", text)
    return text.split()


def _is_sentence_end(token: str) -> bool:
    """True if Punkt (on lower-cased text) would end a sentence after this whitespace-delimited token."""
    core = token.rstrip("\"')]}»”’")
    if not core.endswith(".") or core.endswith(".."):
        return False
    if _NUMERIC_RE.match(core) or _INITIAL_RE.match(core):
        return False
    return core[:-1].lower() not in _ABBREVIATIONS


def _split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    tokens = list(_SENT_TOKEN_RE.finditer(text))
    for tok, nxt in zip(tokens, tokens[1:]):
        if _is_sentence_end(tok.group()):
            sentences.append(text[start : tok.end()])
            start = nxt.start()
    sentences.append(text[start:])
    return sentences


def word_tokenize(text: str) -> list[str]:
    """Tokenize a non-CJK run like ``nltk.word_tokenize`` (offline; see the module notes for differences)."""
    return [tok for sent in _split_sentences(text) for tok in _treebank_tokenize(sent)]


# ----------------------------------------------------------------------------------------------------
# The official metric
# ----------------------------------------------------------------------------------------------------
def _normalize(text: Any) -> str:
    return str(text).lower().strip()


def mixed_segmentation(text: Any, rm_punc: bool = False) -> list[str]:
    """Split into CJK characters / punctuation marks / word tokens, as the official script does."""
    segs: list[str] = []
    pending = ""
    for char in _normalize(text):
        if rm_punc and char in _PUNCT_SET:
            continue
        if _CJK_RE.match(char) or char in _PUNCT_SET:
            if pending:
                segs.extend(word_tokenize(pending))
                pending = ""
            segs.append(char)
        else:
            pending += char
    if pending:
        segs.extend(word_tokenize(pending))
    return segs


def remove_punctuation(text: Any) -> str:
    """Lower-case, strip and delete the official punctuation characters (used for EM)."""
    return "".join(c for c in _normalize(text) if c not in _PUNCT_SET)


def find_lcs(s1: Sequence[str], s2: Sequence[str]) -> tuple[list[str], int]:
    """Longest common contiguous run of ``s1`` and ``s2`` (first one found, as the official ``find_lcs``)."""
    best = 0
    end = 0
    prev = [0] * (len(s2) + 1)
    for i, a in enumerate(s1):
        cur = [0] * (len(s2) + 1)
        for j, b in enumerate(s2):
            if a == b:
                cur[j + 1] = prev[j] + 1
                if cur[j + 1] > best:
                    best = cur[j + 1]
                    end = i + 1
        prev = cur
    return list(s1[end - best : end]), best


def calc_f1_score(answers: Sequence[str], prediction: str) -> float:
    """Max over references of the LCS-based F1 between mixed segmentations (punctuation removed)."""
    if not answers:
        raise ValueError("calc_f1_score needs at least one reference answer")
    pred_segs = mixed_segmentation(prediction, rm_punc=True)
    scores = []
    for ans in answers:
        ans_segs = mixed_segmentation(ans, rm_punc=True)
        _, lcs_len = find_lcs(ans_segs, pred_segs)
        if lcs_len == 0:
            scores.append(0.0)
            continue
        precision = 1.0 * lcs_len / len(pred_segs)
        recall = 1.0 * lcs_len / len(ans_segs)
        scores.append((2 * precision * recall) / (precision + recall))
    return max(scores)


def calc_em_score(answers: Sequence[str], prediction: str) -> int:
    """1 if the prediction equals any reference after punctuation removal, else 0."""
    pred = remove_punctuation(prediction)
    return int(any(remove_punctuation(ans) == pred for ans in answers))


@dataclass(frozen=True)
class QAScore:
    """Unrounded scores (percentages); :func:`evaluate` formats them like the official script."""

    f1: float
    em: float
    total: int
    skip: int

    @property
    def average(self) -> float:
        return (self.em + self.f1) * 0.5


def _iter_questions(dataset: Mapping[str, Any]):
    try:
        for a, article in enumerate(dataset["data"]):
            for p, para in enumerate(article["paragraphs"]):
                for q, qa in enumerate(para["qas"]):
                    where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                    try:
                        qid = str(qa["id"]).strip()
                        answers = [str(x["text"]) for x in qa["answers"]]
                    except (KeyError, TypeError) as exc:
                        raise DataError(
                            f"{where}: expected 'id' and 'answers' with 'text' fields ({exc!r})"
                        ) from None
                    yield where, qid, answers
    except (KeyError, TypeError) as exc:
        raise DataError(f"dataset is not SQuAD-style: expected data[].paragraphs[].qas[] ({exc!r})") from None


def score(
    dataset: Mapping[str, Any],
    predictions: Mapping[str, Any],
    on_skip: Callable[[str], None] | None = None,
) -> QAScore:
    """Unrounded F1/EM over every question in ``dataset``; missing predictions score 0 and count as SKIP."""
    f1 = 0.0
    em = 0
    total = 0
    skip = 0
    for where, qid, answers in _iter_questions(dataset):
        total += 1
        if qid not in predictions:
            skip += 1
            if on_skip is not None:
                on_skip(qid)
            else:
                logger.warning("Unanswered question: %s", qid)
            continue
        if not answers:
            raise DataError(f"{where} (id {qid!r}): no reference answers; the official metric needs some")
        prediction = str(predictions[qid])
        f1 += calc_f1_score(answers, prediction)
        em += calc_em_score(answers, prediction)
    if total == 0:
        raise DataError("dataset has no questions (data[].paragraphs[].qas[] is empty)")
    return QAScore(f1=100.0 * f1 / total, em=100.0 * em / total, total=total, skip=skip)


def format_score(result: QAScore) -> dict[str, Any]:
    """The official output dict (without FILE): 3-decimal strings for scores, ints for counts."""
    out: dict[str, Any] = OrderedDict()
    out["AVERAGE"] = f"{result.average:.3f}"  # same digits as the official '%.3f' % x
    out["F1"] = f"{result.f1:.3f}"
    out["EM"] = f"{result.em:.3f}"
    out["TOTAL"] = result.total
    out["SKIP"] = result.skip
    return out


def evaluate(dataset: Mapping[str, Any], predictions: Mapping[str, Any]) -> dict[str, Any]:
    """Score ``predictions`` ({qid: answer}) against a SQuAD-style ``dataset``; the official fields."""
    return format_score(score(dataset, predictions))


def _load_json(path: str, what: str) -> Any:
    return read_json(path, what)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI with the official script's arguments; prints its JSON line to stdout, skips to stderr."""
    parser = argparse.ArgumentParser(description="Evaluation Script for CMRC 2018 / DRCD")
    parser.add_argument("dataset_file", help="Official dataset file")
    parser.add_argument("prediction_file", help="Your prediction File")
    args = parser.parse_args(argv)
    try:
        dataset = _load_json(args.dataset_file, "dataset file")
        predictions = _load_json(args.prediction_file, "prediction file")
        if not isinstance(predictions, dict):
            raise DataError(f"{args.prediction_file}: expected a JSON object {{question id: answer text}}")
        if not isinstance(dataset, dict):
            raise DataError(f"{args.dataset_file}: expected a JSON object with a 'data' list")
        try:
            result = score(
                dataset, predictions, on_skip=lambda qid: sys.stderr.write(f"Unanswered question: {qid}\n")
            )
        except DataError as exc:  # name the file: score() only knows the JSON path
            raise DataError(f"{args.dataset_file}: {exc}") from None
    except DataError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    out = format_score(result)
    out["FILE"] = args.prediction_file
    print(json.dumps(out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
