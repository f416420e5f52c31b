"""Token classification (NER) data in the common BIO layouts, for fine-tuning on your own tagged data.

Two layouts, chosen by extension:

* CoNLL-style text (``.txt``, ``.tsv``, ``.conll``, ``.bio``, ``.bmes``): one token and its tag per line
  (tab- or space-separated), a blank line between sentences;
* JSON lines (``.jsonl``, ``.json``): ``{"tokens": [...], "tags": [...]}`` (``labels``/``ner_tags`` also accepted;
  ``text`` with one tag per character instead of ``tokens``).

Tags follow BIO (``B-PER``, ``I-PER``, ``O``), also BIOES/BMES prefixes. A tag that is none of these, tokens and
tags of different lengths, or an empty sentence is an error naming file:line.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..textio import is_blank
from .report import ReadReport, finish, text_encoding

log = logging.getLogger("paddle_electra.tasks")

_TAG = re.compile(r"^(O|[BIESM]-\S+)$")
_TAG_KEYS = ("tags", "labels", "ner_tags", "label")


@dataclass(frozen=True)
class TokenExample:
    guid: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def _check_tags(path: Path, lineno: int, tags: list[str]) -> None:
    for tag in tags:
        if not _TAG.match(tag):
            raise DataError(f"{path}:{lineno}: tag {tag!r} is not BIO/BIOES (expected O, B-TYPE, I-TYPE, E-TYPE or "
                            "S-TYPE)")


def read_bio(path: str | Path, split: str) -> tuple[list[TokenExample], ReadReport]:
    """Read one split of tagged sentences (see module docstring)."""
    path = Path(path)
    report = ReadReport(path=path, split=split)
    text = path.read_bytes().decode(text_encoding(path, report))
    reader = _read_jsonl if path.suffix.lower() in (".jsonl", ".json") else _read_conll
    examples = reader(path, text, split)
    return finish(examples, report)


def _read_conll(path: Path, text: str, split: str) -> list[TokenExample]:
    examples: list[TokenExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 1

    def flush(lineno: int) -> None:
        if tokens:
            _check_tags(path, start, tags)
            examples.append(TokenExample(f"{split}-{len(examples)}", tuple(tokens), tuple(tags)))
            tokens.clear()
            tags.clear()

    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if is_blank(line) or line.startswith("-DOCSTART-"):
            flush(lineno)
            start = lineno + 1
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 2:
            raise DataError(f"{path}:{lineno}: expected a token and its tag separated by a tab or space, got "
                            f"{line!r}")
        tokens.append(parts[0])
        tags.append(parts[-1])
    flush(len(text.split("\n")))
    return examples


def _read_jsonl(path: Path, text: str, split: str) -> list[TokenExample]:
    examples = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if is_blank(line):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from None
        tokens = record.get("tokens") if isinstance(record, dict) else None
        if tokens is None and isinstance(record, dict) and isinstance(record.get("text"), str):
            tokens = list(record["text"])
        tags = next((record[k] for k in _TAG_KEYS if isinstance(record, dict) and k in record), None)
        if not isinstance(tokens, list) or not isinstance(tags, list) or not all(
                isinstance(x, str) for x in [*tokens, *tags]):
            raise DataError(f'{path}:{lineno}: expected {{"tokens": [str, ...], "tags": [str, ...]}} (or "text" '
                            "with one tag per character)")
        if len(tokens) != len(tags):
            raise DataError(f"{path}:{lineno}: {len(tokens)} tokens but {len(tags)} tags")
        if not tokens:
            raise DataError(f"{path}:{lineno}: empty sentence")
        _check_tags(path, lineno, tags)
        examples.append(TokenExample(f"{split}-{len(examples)}", tuple(tokens), tuple(tags)))
    return examples


def tag_set(examples: list[TokenExample]) -> tuple[str, ...]:
    """``O`` first, then the other tags sorted (so ids are stable for one training set)."""
    tags = {t for e in examples for t in e.tags}
    return ("O", *sorted(tags - {"O"}))


def chunks(tags: list[str] | tuple[str, ...]) -> set[tuple[int, int, str]]:
    """Entity spans ``(start, end, type)`` of a BIO/BIOES tag sequence (an I- after O starts a chunk, as conlleval)."""
    found, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if start is not None and (prefix in ("O", "B", "S") or label != kind):
            found.add((start, i, kind))
            start = None
        if prefix in ("B", "S") or (prefix in ("I", "M", "E") and start is None):
            start, kind = i, label
        if prefix in ("E", "S") and start is not None:
            found.add((start, i + 1, kind))
            start = None
    return found


def chunk_f1(gold: list[tuple[str, ...]], predicted: list[tuple[str, ...]]) -> dict[str, float]:
    """Entity-level precision/recall/F1 over a whole set (exact span and type), as conlleval computes them."""
    correct = found = wanted = 0
    for g, p in zip(gold, predicted):
        gold_chunks, pred_chunks = chunks(g), chunks(p)
        correct += len(gold_chunks & pred_chunks)
        found += len(pred_chunks)
        wanted += len(gold_chunks)
    precision = correct / found if found else 0.0
    recall = correct / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
