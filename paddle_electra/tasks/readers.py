"""Readers for the seed's fine-tuning data: tsv (classification), SQuAD-v1 JSON (QA), CAIL2018 JSON lines.

Layout (as in ymcui/Chinese-ELECTRA): ``D/finetuning_data/<task>/{train,dev,eval}.{tsv,json}``; ``D/<task>/…``
and ``test.*`` (for ``eval``) are accepted too, and the file actually used is logged.

The seed reads tsv rows with ``csv.reader(delimiter="\\t", quotechar=None)`` and skips the first line of every
file as a header; we do the same (quotes are literal). Where the seed would crash or silently drop a row,
we raise :class:`~paddle_electra.errors.DataError` with ``path:line: what was expected`` instead, and every
line that is skipped on purpose (header, blank lines, CAIL multi-charge records) is counted in a
:class:`ReadReport` and logged on ``paddle_electra.tasks``. UTF-8 BOMs and CRLF line endings are accepted
transparently; lines are split on ``\\n`` only, so a lone ``\\r`` inside a line stays part of the text.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from paddle_electra.errors import DataError
from paddle_electra.tasks.ner import read_bio, tag_set
from paddle_electra.tasks.registry import ColumnNames, TaskSpec, TsvColumns, get_task, normalize_split
from paddle_electra.tasks.report import ReadReport, finish, text_encoding
from paddle_electra.textio import is_blank, read_json

logger = logging.getLogger("paddle_electra.tasks")

__all__ = [
    "Answer",
    "ClassificationExample",
    "ColumnNames",
    "QAExample",
    "ReadReport",
    "TaskData",
    "find_split_file",
    "load_examples",
    "load_labels",
    "load_split",
    "read_cail_jsonl",
    "read_qa_json",
    "read_split",
    "read_tsv_examples",
    "save_labels",
    "task_labels",
]

_BOM = b"\xef\xbb\xbf"
_MAX_LISTED = 10  # line numbers / labels listed in one log or error line


# ----------------------------------------------------------------------------------------------------
# Data classes
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassificationExample:
    """One tsv/CAIL row. ``guid`` is ``<split>-<i>`` with the seed's example id ``i`` (data line index)."""

    guid: str
    text_a: str
    text_b: str | None
    label: str


@dataclass(frozen=True)
class Answer:
    """A reference answer: text and its character offset in the context (-1 when the file gives none)."""

    text: str
    start: int


@dataclass(frozen=True)
class QAExample:
    """One question. Train keeps only ``answers[0]`` (as the seed trains on); dev/eval keep all references."""

    qid: str
    question: str
    context: str
    answers: tuple[Answer, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.answers, tuple):  # accept lists, keep the dataclass hashable
            object.__setattr__(self, "answers", tuple(self.answers))


@dataclass
class TaskData:
    """A loaded split: the examples plus where they came from and the label list used."""

    spec: TaskSpec
    split: str
    path: Path
    examples: list[Any]
    labels: tuple[str, ...]
    report: ReadReport


# ----------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------
def _split_names(split: str) -> tuple[str, ...]:
    return ("eval", "test") if split == "eval" else (split,)


def find_split_file(task: str | TaskSpec, data_dir: str | os.PathLike[str], split: str) -> Path:
    """Locate ``<split>.<ext>`` for a task under ``D/finetuning_data/<task>/`` or ``D/<task>/``.

    ``eval`` also accepts ``test.*``. The chosen file is logged; other matching candidates are logged as
    ignored.
    """
    spec = get_task(task)
    split = normalize_split(split)
    root = Path(data_dir)
    candidates = [
        d / f"{name}.{ext}"
        for d in (root / "finetuning_data" / spec.name, root / spec.name)
        for name in _split_names(split)
        for ext in spec.extensions
    ]
    found = [p for p in candidates if p.is_file()]
    if not found:
        looked = ", ".join(str(p) for p in candidates)
        raise DataError(f"{spec.name} {split} data not found; looked for: {looked}")
    chosen = found[0]
    logger.info("%s %s: using %s", spec.name, split, chosen)
    for other in found[1:]:
        logger.warning("%s %s: also found %s, ignored (using %s)", spec.name, split, other, chosen)
    return chosen


def _iter_lines(path: Path, report: ReadReport | None = None) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text) with BOM and line endings removed, in the file's own encoding.

    UTF-8 (with or without BOM) or GB18030/GBK (CAIL 2018's train is GB18030), detected over the whole file;
    the encoding used is noted in the report. Lines are split on ``\\n`` only.
    """
    encoding = text_encoding(path, report).replace("utf-8-sig", "utf-8")  # line 1's BOM is dropped below
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            yield lineno, raw.decode(encoding)


def _iter_rows(path: Path, report: ReadReport) -> Iterator[tuple[int, list[str] | dict[str, Any]]]:
    """Rows of a table file by its extension: ``.csv`` (quoting, BOM, CRLF), ``.jsonl``/``.json`` (one object per
    line), anything else tab-separated with literal quotes (as the seed reads its tsv files)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _iter_csv(path, report)
        return
    for lineno, line in _iter_lines(path, report):
        if is_blank(line):
            report.skip("blank", lineno)
            continue
        if suffix in (".jsonl", ".json"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON at column {exc.colno}: {exc.msg} (JSON lines: one "
                                "object per line)") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object per line, got {type(record).__name__}")
            yield lineno, record
        else:
            yield lineno, line.split("\t")


def _iter_csv(path: Path, report: ReadReport) -> Iterator[tuple[int, list[str]]]:
    import csv

    with open(path, encoding=text_encoding(path, report), newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        try:
            for fields in reader:
                lineno, start = start, reader.line_num + 1
                if not fields or all(is_blank(f) for f in fields):
                    report.skip("blank", lineno)
                    continue
                yield lineno, fields
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc}); check the quoting") from None


# Header names that say which column is which, as released files spell them (lower-cased).
TEXT_A_NAMES = ("text_a", "text", "sentence", "sentence1", "premise", "query", "q1", "s1", "question1", "text1",
                "review", "content")
TEXT_B_NAMES = ("text_b", "sentence2", "hypothesis", "title", "q2", "s2", "question2", "text2")
LABEL_NAMES = ("label", "gold_label", "labels", "y", "class", "category")
_ROLE_NAMES = {"text_a": TEXT_A_NAMES, "text_b": TEXT_B_NAMES, "label": LABEL_NAMES}


def _named_layout(names: Sequence[str], pair: bool, given: ColumnNames | None,
                  optional_pair: bool = False) -> dict[str, Any] | None:
    """Column index (or JSON key) per role from header names; None when the names do not say."""
    lowered = [str(n).strip().lower() for n in names]
    found: dict[str, Any] = {}
    for role, candidates in _ROLE_NAMES.items():
        wanted = getattr(given, role) if given else None
        options = (wanted.strip().lower(),) if wanted else candidates
        for option in options:
            if option in lowered:
                found[role] = lowered.index(option)
                break
        else:
            if wanted:
                return {"missing": (role, wanted)}
    if "text_a" not in found or "label" not in found or (pair and "text_b" not in found):
        return None
    if not pair and not optional_pair:
        found.pop("text_b", None)
    found["language"] = lowered.index("language") if "language" in lowered else None
    found["width"] = len(lowered)
    return found


def _positional_layout(spec: TaskSpec, split: str, width: int) -> TsvColumns:
    """The seed's column layout for the split, or the task's plain layout when the row has exactly its width
    (XNLI dev given as premise/hypothesis/label instead of the XNLI-1.0 layout)."""
    cols = spec.columns_for(split)
    default = spec.columns["default"]
    if width != cols.n_columns and width == default.n_columns:
        return default
    return cols


def _fmt_labels(labels: Sequence[str]) -> str:
    if len(labels) <= _MAX_LISTED:
        return repr(list(labels))
    return f"the {len(labels)} known labels (first {_MAX_LISTED}: {list(labels[:_MAX_LISTED])!r})"


# ----------------------------------------------------------------------------------------------------
# tsv classification (chnsenticorp, lcqmc, bqcorpus, xnli, cail2018 tsv)
# ----------------------------------------------------------------------------------------------------
def read_tsv_examples(
    path: str | os.PathLike[str],
    spec: str | TaskSpec,
    split: str,
    labels: Sequence[str] | None = None,
    columns: ColumnNames | None = None,
) -> tuple[list[ClassificationExample], ReadReport]:
    """Read one classification split from a table file (tsv/txt, csv or JSON lines), as released.

    A header is recognised by its content, never by position: a first row whose names say which column holds
    the text(s) and the label (``label``, ``sentence1``, ``premise``, ... or the ``columns`` given) is a header
    and the columns are taken from it; a first row whose label is a valid label is data (LCQMC has no header).
    Without a header the seed's positional layout applies. ``labels`` defaults to the task's fixed list;
    ``None`` for a task without one (cail2018, custom) accepts any non-empty label.
    """
    spec = get_task(spec)
    split = normalize_split(split)
    path = Path(path)
    allowed = tuple(labels) if labels is not None else spec.labels
    columns = columns or spec.column_names
    pair = spec.columns_for(split).text_b is not None or bool(columns and columns.text_b)
    optional_pair = spec.name == "custom" and not (columns and columns.text_a)  # a header may name a pair
    report = ReadReport(path=path, split=split)
    examples: list[ClassificationExample] = []
    languages: Counter[str] = Counter()
    layout: dict[str, Any] | None = None
    first, header_lines = True, 0
    for lineno, row in _iter_rows(path, report):
        if isinstance(row, dict):
            layout = layout or _json_layout(path, lineno, row, pair, columns, optional_pair)
            fields = [row.get(key) for key in layout["keys"]]
            if not all(isinstance(f, (str, int)) and not isinstance(f, bool) for f in fields):
                raise DataError(f"{path}:{lineno}: expected string fields {layout['keys']}, got "
                                f"{ {k: type(row.get(k)).__name__ for k in layout['keys']} }")
            fields = [str(f) for f in fields]
            text_a, label = fields[0], fields[-1]
            text_b = fields[1] if len(fields) == 3 else None
            where = {role: f" (field {key!r})" for role, key in zip(("text_a", "text_b", "label")
                     if text_b is not None else ("text_a", "label"), layout["keys"])}
        else:
            if first:
                first = False
                named = _named_layout(row, pair, columns, optional_pair)
                if named and "missing" in named:
                    role, wanted = named["missing"]
                    raise DataError(f"{path}:{lineno}: no column named {wanted!r} for {role} in the header "
                                    f"{row!r}; pass the name used there")
                if named:
                    header_lines = 1
                    layout = None if _same_as_positional(named, spec, split) else named
                    report.skip("header", lineno)
                    continue
                if columns and (columns.text_a or columns.label):
                    raise DataError(f"{path}:{lineno}: columns were named ({columns}) but the first row {row!r} is "
                                    "not a header with those names")
                if not _looks_like_data(row, spec, split, allowed):
                    header_lines = 1
                    report.skip("header", lineno)
                    logger.info("%s:1: %r read as an unnamed header (its label column holds no valid label)",
                                path, row)
                    continue
            text_a, text_b, label, language, where = _take(path, lineno, row, layout, spec, split)
            if language is not None:
                languages[language] += 1
        if label in spec.label_aliases:
            report.warnings[f"label {label!r} read as {spec.label_aliases[label]!r}"] += 1
            label = spec.label_aliases[label]
        label = label.strip()
        if not label:
            raise DataError(f"{path}:{lineno}: empty label{where['label']}; fill it in or delete the line")
        if allowed is not None and label not in allowed:
            raise DataError(f"{path}:{lineno}: label {label!r} not in {_fmt_labels(allowed)}")
        if is_blank(text_a):
            raise DataError(f"{path}:{lineno}: empty text_a{where['text_a']}; fill it in or delete the line")
        if text_b is not None and is_blank(text_b):
            raise DataError(f"{path}:{lineno}: empty text_b{where['text_b']}; fill it in or delete the line")
        examples.append(ClassificationExample(f"{split}-{lineno - 1 - header_lines}", text_a, text_b, label))
    if spec.name == "xnli" and languages and set(languages) != {"zh"}:
        report.warnings["rows not in language 'zh'"] += sum(n for lang, n in languages.items() if lang != "zh")
        logger.warning("%s: rows per language %s; the seed does not filter by language, so all are used. Supply a "
                       "zh-only file to match the published XNLI numbers.", path, dict(languages.most_common()))
    return finish(examples, report)


def _json_layout(path: Path, lineno: int, row: dict[str, Any], pair: bool,
                 columns: ColumnNames | None, optional_pair: bool = False) -> dict[str, Any]:
    named = _named_layout(list(row), pair, columns, optional_pair)
    if not named or "missing" in named:
        raise DataError(f"{path}:{lineno}: cannot tell the text and label fields of {sorted(row)}; name them with "
                        "--text-column/--text-pair-column/--label-column")
    keys = list(row)
    roles = ["text_a", "text_b", "label"] if "text_b" in named else ["text_a", "label"]
    return {"keys": [keys[named[r]] for r in roles]}


def _looks_like_data(row: list[str], spec: TaskSpec, split: str, allowed: Sequence[str] | None) -> bool:
    cols = _positional_layout(spec, split, len(row))
    if len(row) <= cols.label:
        return True  # too short to be either: let the row check report it
    label = spec.label_aliases.get(row[cols.label].strip(), row[cols.label].strip())
    if allowed is not None:
        return label in allowed
    return label.lower() not in LABEL_NAMES


def _same_as_positional(named: dict[str, Any], spec: TaskSpec, split: str) -> bool:
    cols = _positional_layout(spec, split, named["width"])
    return (named["width"] == cols.n_columns and cols.exact and named["text_a"] == cols.text_a
            and named.get("text_b") == cols.text_b and named["label"] == cols.label)


def _take(path: Path, lineno: int, row: list[str], layout: dict[str, Any] | None, spec: TaskSpec,
          split: str) -> tuple[str, str | None, str, str | None, dict[str, str]]:
    """text_a, text_b, label, language (XNLI-1.0 files) and, per role, where it sits (for messages)."""
    if layout is not None:
        if len(row) != layout["width"]:
            sep = "comma-separated" if path.suffix.lower() == ".csv" else "tab-separated"
            raise DataError(f"{path}:{lineno}: expected {layout['width']} {sep} columns (as the header line names "
                            f"them), got {len(row)}")
        index = {role: layout[role] for role in ("text_a", "text_b", "label") if role in layout}
        language = row[layout["language"]] if layout.get("language") is not None else None
    else:
        cols = _positional_layout(spec, split, len(row))
        if len(row) < cols.n_columns or (cols.exact and len(row) != cols.n_columns):
            raise DataError(f"{path}:{lineno}: expected {cols.describe()}, got {len(row)}")
        index = {"text_a": cols.text_a, "label": cols.label}
        if cols.text_b is not None:
            index["text_b"] = cols.text_b
        language = row[0] if not cols.exact else None
    where = {role: f" (column {i + 1})" for role, i in index.items()}
    text_b = row[index["text_b"]] if "text_b" in index else None
    return row[index["text_a"]], text_b, row[index["label"]], language, where


# ----------------------------------------------------------------------------------------------------
# CAIL2018 JSON lines
# ----------------------------------------------------------------------------------------------------
_CAIL_SHAPE = '{"fact": str, "meta": {"accusation": [str, ...], ...}}'


def read_cail_jsonl(
    path: str | os.PathLike[str], split: str, labels: Sequence[str] | None = None
) -> tuple[list[ClassificationExample], ReadReport]:
    """Read CAIL2018 records (one JSON object per line); keep those with exactly one accusation.

    Records with several accusations (``multi_label``) or none (``no_accusation``) are skipped, counted and
    logged: the task is single-label charge prediction. ``labels`` (dev/eval) must contain every kept charge.
    """
    split = normalize_split(split)
    path = Path(path)
    report = ReadReport(path=path, split=split)
    examples: list[ClassificationExample] = []
    for lineno, line in _iter_lines(path, report):
        if is_blank(line):
            report.skip("blank", lineno)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{lineno}: invalid JSON at column {exc.colno}: {exc.msg} "
                f"(the CAIL2018 format is one JSON object per line: {_CAIL_SHAPE})"
            ) from None
        fact = record.get("fact") if isinstance(record, dict) else None
        meta = record.get("meta") if isinstance(record, dict) else None
        accusation = meta.get("accusation") if isinstance(meta, dict) else None
        if (
            not isinstance(fact, str)
            or not isinstance(accusation, list)
            or not all(isinstance(a, str) for a in accusation)
        ):
            raise DataError(f"{path}:{lineno}: expected a CAIL2018 record {_CAIL_SHAPE}")
        if is_blank(fact):
            raise DataError(f"{path}:{lineno}: empty fact")
        if len(accusation) == 0:
            report.skip("no_accusation", lineno)
            continue
        if len(accusation) > 1:
            report.skip("multi_label", lineno)  # single-charge prediction: a multi-charge case has no one label
            continue
        label = accusation[0].strip()
        if "[" in label:  # some CAIL copies bracket the optional parts: "[走私、贩卖、运输、制造]毒品"
            label = label.replace("[", "").replace("]", "")
            report.warnings["charges written with [] (brackets removed, as accu.txt names them)"] += 1
        if not label:
            raise DataError(f"{path}:{lineno}: empty accusation")
        if labels is not None and label not in labels:
            raise DataError(f"{path}:{lineno}: label {label!r} not in {_fmt_labels(labels)}")
        examples.append(ClassificationExample(f"{split}-{lineno - 1}", fact, None, label))
    return finish(examples, report)


def _read_classification(
    path: Path, spec: TaskSpec, split: str, labels: Sequence[str] | None
) -> tuple[list[ClassificationExample], ReadReport]:
    if spec.file_format == "cail" and path.suffix in (".json", ".jsonl"):
        return read_cail_jsonl(path, split, labels)
    return read_tsv_examples(path, spec, split, labels)


# ----------------------------------------------------------------------------------------------------
# Label lists that come from the data (cail2018)
# ----------------------------------------------------------------------------------------------------
def save_labels(path: str | os.PathLike[str], task: str, labels: Sequence[str]) -> None:
    """Persist a label list (JSON ``{"task", "labels"}``) so dev/eval and prediction use the train mapping."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps({"task": task, "labels": list(labels)}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    tmp.replace(path)


def load_labels(path: str | os.PathLike[str], task: str) -> tuple[str, ...]:
    """Read a label list written by :func:`save_labels`, checking it belongs to ``task``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read label list: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a label list written by paddle-electra ({exc})") from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise DataError(f'{path}: expected {{"task": "{task}", "labels": [str, ...]}}')
    if data.get("task") != task:
        raise DataError(f"{path}: label list is for task {data.get('task')!r}, not {task!r}")
    return tuple(labels)


LABEL_LIST_FILES = ("labels.txt", "accu.txt")


def label_list_file(task_dir: Path) -> Path | None:
    """A label list beside the data (one label per line: CAIL 2018's ``accu.txt``), if there is one."""
    return next((task_dir / n for n in LABEL_LIST_FILES if (task_dir / n).is_file()), None)


def read_label_list(path: Path) -> tuple[str, ...]:
    labels = [line.strip() for _, line in _iter_lines(path)]
    labels = [label for label in labels if label]
    if not labels or len(set(labels)) != len(labels):
        dupes = sorted({x for x in labels if labels.count(x) > 1})[:3]
        raise DataError(f"{path}: a label list needs one distinct label per line"
                        + (f" (repeated: {dupes})" if dupes else " (the file is empty)"))
    return tuple(labels)


def task_labels(
    task: str | TaskSpec,
    data_dir: str | os.PathLike[str],
    labels_path: str | os.PathLike[str] | None = None,
) -> tuple[str, ...]:
    """The label list of a task: fixed for most; for cail2018 read from ``labels_path`` or derived from train.

    When derived (sorted set of train labels, Python string order) and ``labels_path`` is given, it is saved
    there so later runs map labels to the same ids.
    """
    spec = get_task(task)
    if spec.labels is not None:
        return spec.labels
    if labels_path is not None and Path(labels_path).is_file():
        labels = load_labels(labels_path, spec.name)
        logger.info("%s: %d labels from %s", spec.name, len(labels), labels_path)
        return labels
    train_path = find_split_file(spec, data_dir, "train")
    examples, _ = _read_classification(train_path, spec, "train", None)
    labels = tuple(sorted({e.label for e in examples}))
    logger.info("%s: %d labels derived from %s", spec.name, len(labels), train_path)
    if labels_path is not None:
        save_labels(labels_path, spec.name, labels)
        logger.info("%s: label list saved to %s", spec.name, labels_path)
    return labels


# ----------------------------------------------------------------------------------------------------
# SQuAD-v1 JSON (cmrc2018, drcd)
# ----------------------------------------------------------------------------------------------------
class _JsonLocator:
    """Best-effort line numbers for JSON-path errors: finds the n-th ``"id": "<qid>"`` in the raw text."""

    def __init__(self, text: str) -> None:
        self._text = text

    def line_of_id(self, qid: str, nth: int = 1) -> int | None:
        for needle in {json.dumps(qid, ensure_ascii=False), json.dumps(qid)}:
            hits = re.finditer(r'"id"\s*:\s*' + re.escape(needle), self._text)
            for k, match in enumerate(hits, start=1):
                if k == nth:
                    return self._text.count("\n", 0, match.start()) + 1
        return None


def _load_json_file(path: Path) -> tuple[Any, str]:
    return read_json(path)


def read_qa_json(
    path: str | os.PathLike[str],
    split: str,
    on_bad_answer: Literal["error", "skip"] = "error",
) -> tuple[list[QAExample], ReadReport]:
    """Read SQuAD-v1 JSON (``data[].paragraphs[].{context, qas[]}``) for cmrc2018/drcd.

    Train: ``answers[0]`` must be the text at ``answer_start``. If it is elsewhere in the context the example
    is kept unchanged and counted (``answer_not_at_start``); if it is nowhere, DataError, or with
    ``on_bad_answer="skip"`` the question is skipped and counted (the seed's "Could not find answer" case).
    Dev/eval: offsets are not used by the metric, so mismatches are only counted; questions without answers
    are kept (answers ``()``) and counted.
    """
    split = normalize_split(split)
    path = Path(path)
    data, text = _load_json_file(path)
    loc = _JsonLocator(text)
    report = ReadReport(path=path, split=split)
    examples: list[QAExample] = []
    seen: dict[str, str] = {}

    def where(jpath: str, qid: str | None = None, nth: int = 1) -> str:
        line = loc.line_of_id(qid, nth) if qid is not None else None
        head = f"{path}:{line}" if line is not None else str(path)
        return f"{head}: {jpath}" + (f" (id {qid!r})" if qid is not None else "")

    def need(obj: Any, key: str, kind: type | tuple[type, ...], jpath: str, qid: str | None = None) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise DataError(f"{where(jpath, qid)}: missing {key!r}")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise DataError(f"{where(jpath, qid)}: {key!r} should be {names}, got {type(value).__name__}")
        return value

    for a, article in enumerate(need(data, "data", list, "top level")):
        for p, para in enumerate(need(article, "paragraphs", list, f"data[{a}]")):
            ppath = f"data[{a}].paragraphs[{p}]"
            context = need(para, "context", str, ppath)
            if is_blank(context):
                raise DataError(f"{where(ppath)}: empty context")
            for q, qa in enumerate(need(para, "qas", list, ppath)):
                qpath = f"{ppath}.qas[{q}]"
                qid = need(qa, "id", str, qpath)
                if not qid.strip():
                    raise DataError(f"{where(qpath)}: empty id")
                if qid.strip() in seen:
                    raise DataError(
                        f"{where(qpath, qid, nth=2)}: duplicate id, first used at {seen[qid.strip()]}"
                    )
                seen[qid.strip()] = qpath
                question = need(qa, "question", str, qpath, qid)
                if is_blank(question):
                    if split == "train":  # nothing to learn from; the seed's reader would train on noise
                        report.skip("empty question", loc.line_of_id(qid))
                        logger.warning("%s: empty question; skipped for training", where(qpath, qid))
                        continue
                    # the official scorer counts every question of the file: keep it so the totals match
                    report.warnings["empty questions (kept: the official scorer counts them)"] += 1
                raw_answers = need(qa, "answers", list, qpath, qid)
                answers = _qa_answers(raw_answers, context, split, qpath, qid, where, report, on_bad_answer)
                if answers is None:
                    continue
                examples.append(QAExample(qid, question, context, answers))
    return finish(examples, report)


def _qa_answers(
    raw_answers: list[Any],
    context: str,
    split: str,
    qpath: str,
    qid: str,
    where: Any,
    report: ReadReport,
    on_bad_answer: str,
) -> tuple[Answer, ...] | None:
    """Validate one question's answers; None means "skip this question" (already counted)."""
    if not raw_answers:
        if split == "train":
            raise DataError(f"{where(qpath, qid)}: no answers (training uses answers[0])")
        report.warnings["questions without answers"] += 1
        return ()
    used = raw_answers[:1] if split == "train" else raw_answers
    answers = []
    for k, ans in enumerate(used):
        apath = f"{qpath}.answers[{k}]"
        if not isinstance(ans, dict) or not isinstance(ans.get("text"), str):
            raise DataError(f'{where(apath, qid)}: expected {{"text": str, "answer_start": int}}')
        text = ans["text"]
        if not text.strip():
            raise DataError(f"{where(apath, qid)}: empty answer text")
        start = ans.get("answer_start")
        if isinstance(start, bool) or not isinstance(start, int):
            if split == "train":
                raise DataError(
                    f"{where(apath, qid)}: 'answer_start' should be int, got {type(start).__name__}"
                )
            report.warnings["answers without integer answer_start"] += 1
            answers.append(Answer(text, -1))
            continue
        if 0 <= start and context[start : start + len(text)] == text:
            answers.append(Answer(text, start))
            continue
        shifted = next((start + d for d in (-1, 1, -2, 2)
                        if 0 <= start + d and context[start + d : start + d + len(text)] == text), None)
        if split == "train" and shifted is not None:  # CMRC 2018 trial: answer_start off by one or two
            report.warnings["answer_start off by one or two (corrected)"] += 1
            answers.append(Answer(text, shifted))
            continue
        found = context.find(text)
        if split != "train":
            report.warnings["answer_start mismatches (not used by the metric)"] += 1
            if found < 0:
                report.warnings["answers not in context"] += 1
            answers.append(Answer(text, start))
            continue
        if found >= 0:
            report.warnings["answer_not_at_start (kept as given)"] += 1
            logger.warning(
                "%s: answer %r is not at answer_start %d but occurs at %d; kept as given",
                where(apath, qid),
                text,
                start,
                found,
            )
            answers.append(Answer(text, start))
            continue
        shown = context[max(start, 0) : max(start, 0) + len(text)]
        msg = (
            f"{where(apath, qid)}: answer text {text!r} not found in the context "
            f"(answer_start {start} points at {shown!r})"
        )
        if on_bad_answer == "skip":
            report.skip("answer_not_in_context")
            logger.warning("%s; question skipped", msg)
            return None
        raise DataError(msg + "; fix the data or skip such questions (on_bad_answer='skip')")
    return tuple(answers)


# ----------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------
def read_split(spec: TaskSpec, path: Path, split: str, labels: Sequence[str] | None = None,
               on_bad_answer: Literal["error", "skip"] = "error") -> tuple[list[Any], ReadReport]:
    """One split file read by the reader its task kind needs (QA JSON, tagged sentences, or a table)."""
    if spec.kind == "qa":
        return read_qa_json(path, split, on_bad_answer)
    if spec.kind == "token-cls":

        return read_bio(path, split)
    return _read_classification(path, spec, split, labels)


def load_split(
    task: str | TaskSpec,
    data_dir: str | os.PathLike[str],
    split: str,
    *,
    labels_path: str | os.PathLike[str] | None = None,
    on_bad_answer: Literal["error", "skip"] = "error",
) -> TaskData:
    """Find and read one split of a task; for cail2018 the label list is derived from train and persisted.

    ``labels_path`` (cail2018 only): where the train label list is saved (train) or read from (dev/eval). On
    train, an existing file with a different list is an error, so ids never silently change meaning.
    """
    spec = get_task(task)
    split = normalize_split(split)
    path = find_split_file(spec, data_dir, split)
    if spec.kind == "qa":
        examples, report = read_split(spec, path, split, on_bad_answer=on_bad_answer)
        return TaskData(spec, split, path, examples, (), report)
    if spec.kind == "token-cls":

        examples, report = read_split(spec, path, split)
        return TaskData(spec, split, path, examples, tag_set(examples), report)
    if spec.labels is not None:
        examples, report = _read_classification(path, spec, split, spec.labels)
        return TaskData(spec, split, path, examples, spec.labels, report)
    listed = label_list_file(path.parent)
    if listed is not None:  # CAIL 2018 ships accu.txt: the 202 official charges, so every split maps the same
        labels = read_label_list(listed)
        examples, report = _read_classification(path, spec, split, labels)
        return TaskData(spec, split, path, examples, labels, report)
    if split == "train":
        examples, report = _read_classification(path, spec, split, None)
        labels = tuple(sorted({e.label for e in examples}))
        if labels_path is not None:
            if Path(labels_path).is_file():
                saved = load_labels(labels_path, spec.name)
                if saved != labels:
                    raise DataError(
                        f"{labels_path}: saved label list ({len(saved)} labels) differs from the labels of "
                        f"{path} ({len(labels)}); use a fresh output directory or delete the file"
                    )
            else:
                save_labels(labels_path, spec.name, labels)
                logger.info("%s: %d labels saved to %s", spec.name, len(labels), labels_path)
        return TaskData(spec, split, path, examples, labels, report)
    labels = task_labels(spec, data_dir, labels_path)
    examples, report = _read_classification(path, spec, split, labels)
    return TaskData(spec, split, path, examples, labels, report)


def load_examples(
    task: str | TaskSpec,
    data_dir: str | os.PathLike[str],
    split: str,
    *,
    labels_path: str | os.PathLike[str] | None = None,
    on_bad_answer: Literal["error", "skip"] = "error",
) -> list[Any]:
    """Shortcut for ``load_split(...).examples``."""
    return load_split(task, data_dir, split, labels_path=labels_path, on_bad_answer=on_bad_answer).examples
