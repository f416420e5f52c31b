"""Where a TF checkpoint is: a prefix, a ``.ckpt`` prefix, a directory (its ``checkpoint`` file, or its only
``*.index``), a shard or index file name; the ``checkpoint`` file's path is honoured only inside the directory."""

from __future__ import annotations

import ast
import glob
import logging
import os
import re
from pathlib import Path

from paddle_electra.errors import CheckpointError

log = logging.getLogger("paddle_electra.checkpoint.tf_bundle")

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_CKPT_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', re.MULTILINE)


def data_filename(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def index_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.glob("*.index") if p.is_file())
    except OSError:
        return []


def list_prefixes(paths: list[Path], limit: int = 8) -> str:
    shown = ", ".join(str(p)[: -len(".index")] for p in paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def checkpoint_file_target(ckpt_file: Path) -> str | None:
    """``model_checkpoint_path`` from TF's text-format ``checkpoint`` file (C-escaped string)."""
    try:
        match = _CKPT_LINE.search(ckpt_file.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    if not match:
        return None
    raw = match.group(1)
    try:
        return ast.literal_eval('b"' + raw + '"').decode("utf-8")
    except (ValueError, SyntaxError, UnicodeDecodeError):
        return raw


def prefix_from_dir(directory: Path, ckpt_file: Path | None = None) -> str:
    ckpt_file = ckpt_file or directory / "checkpoint"
    indexes = index_files(directory)
    stale = ""
    if ckpt_file.is_file():
        target = checkpoint_file_target(ckpt_file)
        if target:
            # Paths may be relative to the directory, or absolute ones from the machine that trained (even
            # gs://...). The directory the user named wins: its own copy (by base name) is read even when the
            # absolute path happens to exist elsewhere on this machine.
            local = str(directory / re.split(r"[\\/]", target)[-1])
            absolute = os.path.isabs(target) or "://" in target
            if not absolute and os.path.isfile(str(directory / target) + ".index"):
                return str(directory / target)
            if os.path.isfile(local + ".index"):
                if absolute and os.path.isfile(target + ".index") and not os.path.samefile(target + ".index",
                                                                                         local + ".index"):
                    log.warning("%s points at %s in another directory; reading %s, the copy in the directory "
                                "you named", ckpt_file, target, local)
                return local
            if absolute and os.path.isfile(target + ".index"):
                log.warning("%s points outside %s, at %s; reading that checkpoint", ckpt_file, directory, target)
                return target
            stale = f"{ckpt_file} names {target!r} but {local}.index does not exist"
            if len(indexes) == 1:
                log.warning("%s; using the only checkpoint in the directory, %s", stale, indexes[0])
                return str(indexes[0])[: -len(".index")]
    if len(indexes) == 1:
        return str(indexes[0])[: -len(".index")]
    if indexes:
        why = stale or f"there is no {ckpt_file.name} file saying which"
        raise CheckpointError(
            f"{directory} holds {len(indexes)} TensorFlow checkpoints ({list_prefixes(indexes)}) and {why}; "
            "pass one prefix explicitly"
        )
    nested = sorted(p for p in directory.glob("*/*.index") if p.is_file())[:8]
    hint = (
        f"; found in subfolders: {list_prefixes(nested)} - pass one of those"
        if nested
        else "; point at the folder holding the .index and .data-* files of the unpacked model"
    )
    raise CheckpointError(
        f"no TensorFlow checkpoint in directory {directory}: looked for {ckpt_file.name} and *.index"
        f"{' (' + stale + ')' if stale else ''}{hint}"
    )


def resolve_prefix(path: str | os.PathLike) -> str:
    """Prefix (``dir/name``, without suffix) of the checkpoint that ``path`` names."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    p = Path(text)
    if p.is_dir():
        return prefix_from_dir(p)
    if p.name == "checkpoint" and p.is_file():
        return prefix_from_dir(p.parent, p)
    match = _DATA_SUFFIX.search(text)
    if text.endswith(".index"):
        prefix = text[: -len(".index")]
    elif text.endswith(".meta"):
        prefix = text[: -len(".meta")]
    elif match:
        prefix = text[: match.start()]
    else:
        prefix = text
    if os.path.isfile(prefix + ".index"):
        return prefix
    if os.path.isfile(prefix + ".ckpt.index"):  # HFL's 180g releases: electra_180g_small.ckpt.index
        return prefix + ".ckpt"
    # Not found: say exactly what was looked for and what is there instead.
    parent = Path(prefix).parent
    if not parent.is_dir():
        raise CheckpointError(
            f"TensorFlow checkpoint not found: directory {parent} does not exist "
            f"(looked for {prefix}.index); check the path"
        )
    data_files = sorted(q.name for q in parent.glob(glob.escape(Path(prefix).name) + ".data-*"))
    if data_files:
        raise CheckpointError(
            f"missing index file {prefix}.index next to {', '.join(data_files)}: a TensorFlow checkpoint "
            "needs its .index file as well as its .data-* files - copy the .index file too"
        )
    if p.is_file() and prefix == text:
        raise CheckpointError(
            f"{text} is not a TensorFlow V2 checkpoint (no {text}.index); pass the prefix of a "
            "<prefix>.index + <prefix>.data-* pair (TF V1 single-file checkpoints are not supported: "
            "re-save with tf.compat.v1.train.Saver())"
        )
    indexes = index_files(parent)
    present = (
        f"; checkpoints in {parent}: {list_prefixes(indexes)} - pass one of these prefixes"
        if indexes
        else f"; {parent} has no *.index files"
    )
    raise CheckpointError(f"TensorFlow checkpoint not found: looked for {prefix}.index{present}")
