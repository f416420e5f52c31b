"""What a checkpoint holds and where each tensor goes on conversion, without converting (or even the weights).

Why: a user checking a 400 MB download wants to know, from the small ``.index`` alone, that it is the release
they think and that every tensor has a place -- before fetching the data shard. The same view works for a
Hugging Face directory and for a converted Paddle model directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import match_sizes
from .core import Plan

__all__ = ["Inspection", "TensorRow", "inspect_path"]


@dataclass(frozen=True)
class TensorRow:
    name: str
    shape: tuple[int, ...]
    dtype: str
    destination: str  # "discriminator: electra.encoder...", "skipped: optimizer/training state", ...


@dataclass
class Inspection:
    path: str
    kind: str  # tensorflow | huggingface | paddle
    rows: list[TensorRow]
    releases: dict[str, list[str]]  # role/head -> catalog names whose sizes match
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            key = row.destination.split(":")[0]
            out[key] = out.get(key, 0) + 1
        return out

    def render(self) -> str:
        width = max((len(r.name) for r in self.rows), default=10)
        lines = [f"{self.path} ({self.kind}, {len(self.rows)} tensors)"]
        for role, names in self.releases.items():
            lines.append(f"  {role}: {', '.join(names) if names else 'custom sizes (no HFL release matches)'}")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in self.counts().items()))
        lines.append("")
        for row in self.rows:
            shape = "[" + ",".join(map(str, row.shape)) + "]"
            lines.append(f"{row.name:<{width}}  {shape:<14} {row.dtype:<8} -> {row.destination}")
        return "\n".join(lines)


def _destinations(plans: dict[str, Plan]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for role, plan in plans.items():
        for paddle, (source, transpose) in plan.sources.items():
            where.setdefault(source, []).append(f"{paddle}{' (transposed)' if transpose else ''}")
            where[source][-1] = f"{role}: {where[source][-1]}"
        for source in plan.ignored:
            where.setdefault(source, []).append("ignored: not a weight (buffer, tied copy or stale projection)")
    return where


def _inspect_tf(path: str | os.PathLike[str]) -> Inspection:
    from ..checkpoint.tf_bundle import open_tf_checkpoint
    from ..checkpoint.tf_paths import data_filename
    from .names import is_tf_training_state
    from .tf import plan_tf_checkpoint

    reader = open_tf_checkpoint(path)
    conversion = plan_tf_checkpoint(path)
    where = _destinations(conversion.plans)
    rows = []
    for name in reader.keys():
        if name in where:
            destination = " + ".join(where[name])
        elif is_tf_training_state(name):
            destination = "skipped: optimizer/training state"
        else:
            destination = "skipped: fine-tuning head (task_specific/)"
        rows.append(TensorRow(name, tuple(reader.shape(name)), reader.tf_dtype(name), destination))
    releases = {role: [v.name for v in match_sizes(plan.sizes, role)]  # type: ignore[arg-type]
                for role, plan in conversion.plans.items()}
    notes = []
    missing = [data_filename(reader.prefix, i, reader.num_shards) for i in range(reader.num_shards)
               if not Path(data_filename(reader.prefix, i, reader.num_shards)).is_file()]
    if missing:
        notes.append(f"data shard missing: {', '.join(Path(m).name for m in missing)} (planned from the index "
                     "alone; conversion needs it)")
    if conversion.vocab is None:
        notes.append("no vocab.txt beside the checkpoint (conversion needs --vocab)")
    return Inspection(str(reader.prefix), "tensorflow", rows, releases, notes)


def _inspect_hf(path: str | os.PathLike[str]) -> Inspection:
    from .hf import plan_hf

    conversion = plan_hf(path)
    where = _destinations({conversion.head: conversion.plan})
    dtypes = _hf_dtypes(conversion)
    rows = [TensorRow(name, tuple(shape), dtypes[name], " + ".join(where.get(name, ["?"])))
            for name, shape in sorted(conversion.source.shapes.items())]
    role = conversion.head if conversion.head in ("discriminator", "generator") else None
    releases = {conversion.head: [v.name for v in match_sizes(conversion.plan.sizes, role)]}
    return Inspection(str(conversion.weights), "huggingface", rows, releases)


def _hf_dtypes(conversion) -> dict[str, str]:
    """Each tensor's dtype: from the safetensors header (one read), else from the loaded .bin tensors."""
    if conversion.weights.suffix == ".safetensors":
        from ..checkpoint.safetensors_io import SafetensorsReader

        entries = SafetensorsReader(conversion.weights)._entries
        return {name: str(entry["dtype"]).lower() for name, entry in entries.items()}
    return {name: str(conversion.source.read(name).dtype) for name in conversion.source.shapes}


def _inspect_paddle(path: Path) -> Inspection:
    from ..checkpoint.pdparams import load_pdparams
    from ..modeling.config import read_config_json, sizes_from_dict
    from ..modeling.load import stored_head
    from ..store import CONFIG_FILE, WEIGHTS_FILE

    sizes = sizes_from_dict(read_config_json(path / CONFIG_FILE), str(path / CONFIG_FILE))
    head = stored_head(path)
    state = load_pdparams(path / WEIGHTS_FILE)
    rows = [TensorRow(name, tuple(array.shape), str(array.dtype), f"{head}: as stored")
            for name, array in sorted(state.items()) if hasattr(array, "shape")]
    role = head if head in ("discriminator", "generator") else None
    return Inspection(str(path), "paddle", rows, {head: [v.name for v in match_sizes(sizes, role)]})


def inspect_path(path: str | os.PathLike[str]) -> Inspection:
    """Inspect a TF prefix or directory, an HF directory or weights file, or a converted model directory."""
    from ..store import is_model_dir
    from .hf import WEIGHT_FILES

    target = Path(path).expanduser()
    if target.is_dir() and is_model_dir(target):
        return _inspect_paddle(target)
    if (target.is_file() and target.suffix in (".safetensors", ".bin")) or (
            target.is_dir() and any((target / name).is_file() for name in WEIGHT_FILES)):
        return _inspect_hf(target)
    return _inspect_tf(target)
