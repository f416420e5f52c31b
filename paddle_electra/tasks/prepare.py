"""``paddle-electra data prepare``: released files -> the seed's layout, checked by reading them back.

Why: no task is released in the seed's ``finetuning_data/<task>/{train,dev,test}.*`` layout, and a file that is
laid out but unreadable fails only at training time. Here each file is copied unchanged (extension kept), then
read with the same readers fine-tuning uses, and the user sees per split the count, the label balance and
every line that was skipped, with file:line.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..fs import atomic_dir
from .readers import LABEL_LIST_FILES, ReadReport, read_label_list, read_split
from .registry import TaskSpec, get_task, normalize_split


@dataclass
class PreparedSplit:
    split: str
    path: Path
    examples: list
    report: ReadReport

    def describe(self) -> str:
        report = self.report
        line = f"{self.split}: {len(self.examples)} examples from {self.path}"
        first = self.examples[0]
        if hasattr(first, "answers"):  # span extraction
            line += f"; {sum(1 for e in self.examples if e.answers)} with answers"
        else:  # label balance; for tagged sentences, over tokens
            labels = Counter(t for e in self.examples for t in e.tags) if hasattr(first, "tags") else Counter(
                e.label for e in self.examples)
            top = ", ".join(f"{k} {v}" for k, v in labels.most_common(8))
            more = f", … ({len(labels)} labels)" if len(labels) > 8 else ""
            line += f"; {'tags' if hasattr(first, 'tags') else 'labels'}: {top}{more}"
        for reason, count in report.skipped.items():
            lines = report.skipped_lines.get(reason, [])
            where = (" at " + ", ".join(f"{self.path.name}:{n}" for n in lines[:10])
                     + (", …" if len(lines) > 10 else "")) if lines else ""
            line += f"; skipped {count} ({reason}){where}"
        for warning, count in report.warnings.items():
            line += f"; {warning}: {count}"
        return line


def prepare_task(task: str | TaskSpec, files: dict[str, str | Path | None], output: str | Path,
                 labels: str | Path | None = None, force: bool = False) -> list[PreparedSplit]:
    """Lay ``files`` (split -> released file) out under ``output/finetuning_data/<task>/`` and read them back.

    ``labels``: a label list (CAIL 2018's ``accu.txt``), copied beside the data. The task directory is written
    atomically: a file that does not read leaves no half-prepared directory behind.
    """
    spec = get_task(task)
    given = {split: Path(path) for split, path in files.items() if path is not None}
    if not given:
        raise DataError("give at least one of --train, --dev, --test")
    for split, path in given.items():
        if not path.is_file():
            raise DataError(f"--{split} {path}: no such file")
    target = Path(output) / "finetuning_data" / spec.name
    inputs = [*given.values(), *([labels] if labels else [])]
    with atomic_dir(target, force=force, inputs=inputs) as tmp:
        for split, path in given.items():
            shutil.copyfile(path, tmp / f"{split}{path.suffix.lower()}")
        if labels is not None:
            shutil.copyfile(labels, tmp / LABEL_LIST_FILES[0])
        return _read_back(spec, given, Path(labels) if labels else None)


def _read_back(spec: TaskSpec, given: dict[str, Path], labels_file: Path | None) -> list[PreparedSplit]:
    """Each split through the readers fine-tuning uses; dev/test are checked against train's labels."""
    label_list = spec.labels or (read_label_list(labels_file) if labels_file else None)
    prepared = []
    for split in ("train", "dev", "test"):
        if split not in given:
            continue
        examples, report = read_split(spec, given[split], normalize_split(split), label_list)
        if spec.kind == "classification" and label_list is None and split == "train":
            label_list = tuple(sorted({e.label for e in examples}))
        prepared.append(PreparedSplit(split, given[split], examples, report))
    return prepared
