"""HFL TensorFlow checkpoint -> Paddle discriminator + generator directories, without TensorFlow.

One HFL checkpoint holds both pretraining halves (``electra/`` and ``generator/``, tied embeddings under
``electra/embeddings``) plus Adam slots. Both halves are written from one read of the index; optimizer state
is skipped with one summary line, and any tensor that is neither mapped nor known training state is an error.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..catalog import Sizes, Variant, get_variant, match_sizes
from ..errors import ConfigError, ConversionError
from ..modeling.config import read_config_json, sizes_from_dict
from .core import Plan, TensorSource, build_plan, check_expected, infer_sizes, map_names, write_model_dir
from .names import is_tf_training_state, renamer

log = logging.getLogger("paddle_electra.convert")

ROLE_SCOPES = {"discriminator": "electra", "generator": "generator"}
HFL_CONFIG_FILES = {"discriminator": "discriminator.json", "generator": "generator.json"}


@dataclass
class TFConversion:
    """What was found in a TF checkpoint: a plan per half, and what was skipped."""

    source: TensorSource
    plans: dict[str, Plan]
    skipped_training_state: int
    skipped_task_heads: list[str]
    fingerprint: str
    vocab: Path | None


def _open_source(path: str | Path) -> tuple[TensorSource, Path]:
    from ..checkpoint.tf_bundle import open_tf_checkpoint

    reader = open_tf_checkpoint(path)
    shapes = {name: tuple(reader.shape(name)) for name in reader.keys()}
    return TensorSource(str(reader.prefix), shapes, reader.read), Path(reader.prefix)


def _fingerprint(prefix: Path) -> str:
    digest = hashlib.sha256(Path(str(prefix) + ".index").read_bytes())
    return "tf:" + digest.hexdigest()[:32]


def _hint(role: str, ckpt_dir: Path, config: str | Path | None) -> Sizes | None:
    """Sizes from --config (a JSON file or a catalog name) or the discriminator.json/generator.json HFL ships."""
    if config is not None:
        if Path(config).is_file():
            return sizes_from_dict(read_config_json(config), str(config)) if role == "discriminator" else None
        variant = get_variant(str(config))
        return variant.half(role).sizes
    candidate = ckpt_dir / HFL_CONFIG_FILES[role]
    return sizes_from_dict(read_config_json(candidate), str(candidate)) if candidate.is_file() else None


def _not_electra(source: TensorSource) -> ConversionError:
    names = list(source.shapes)
    if any(n.startswith("bert/") for n in names):
        kind = "a BERT checkpoint (variables under bert/)"
    else:
        kind = f"not an ELECTRA checkpoint (first variables: {', '.join(names[:3]) or 'none'})"
    return ConversionError(
        f"{source.path}: {kind}; expected HFL ELECTRA variables such as electra/embeddings/word_embeddings"
    )


def plan_tf_checkpoint(path: str | Path, config: str | Path | None = None,
                       expected: str | None = None) -> TFConversion:
    """Read the index only and plan both halves; raises before anything is written."""
    source, prefix = _open_source(path)
    if "electra/embeddings/word_embeddings" not in source.shapes:
        raise _not_electra(source)
    expected_variant = _expected_disc(expected)
    plans: dict[str, Plan] = {}
    for role, scope in ROLE_SCOPES.items():
        if not any(n.startswith(f"{scope}/encoder/") for n in source.shapes):
            if role == "discriminator":
                raise _not_electra(source)
            log.info("%s: no generator in this checkpoint; writing the discriminator only", source.path)
            continue
        emb_scope = scope if f"{scope}/embeddings/word_embeddings" in source.shapes else "electra"  # untied gen
        mapped = map_names(source, renamer("tf", (role,), scope=scope, emb_scope=emb_scope))  # type: ignore[arg-type]
        sizes = infer_sizes(source, mapped, _hint(role, prefix.parent, config), role)
        if expected_variant is not None:
            check_expected(source, mapped, sizes, _variant_for(expected_variant, role), role)  # type: ignore[arg-type]
        plans[role] = build_plan(source, mapped, sizes, role, "tf")  # type: ignore[arg-type]
    used = set().union(*(p.used_sources() for p in plans.values()))
    skipped, task_heads, unknown = 0, [], []
    for name in source.shapes:
        if name in used:
            continue
        if is_tf_training_state(name):
            skipped += 1
        elif name.startswith("task_specific/"):
            task_heads.append(name)
        else:
            unknown.append(name)
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ConversionError(
            f"{source.path}: {len(unknown)} tensors are neither ELECTRA weights nor optimizer state: "
            f"{', '.join(unknown[:5])}{more}; this converter handles HFL/google-research ELECTRA checkpoints"
        )
    vocab = prefix.parent / "vocab.txt"
    return TFConversion(source, plans, skipped, task_heads, _fingerprint(prefix), vocab if vocab.is_file() else None)


def _expected_disc(name: str | None) -> Variant | None:
    if name is None:
        return None
    return get_variant(name).half("discriminator")


def _variant_for(disc: Variant, role: str) -> Variant:
    return disc.half(role)


def convert_tf_checkpoint(path: str | Path, output: str | Path | None = None, name: str | None = None,
                          vocab: str | Path | None = None, config: str | Path | None = None,
                          force: bool = False) -> dict[str, Path]:
    """Convert an HFL TF checkpoint; returns ``{"discriminator": dir, "generator": dir}``.

    ``output`` gets ``discriminator/`` and ``generator/`` subdirectories; ``name`` (a catalog name) instead
    writes into the local store under that name and its ``-generator`` companion, after checking the shapes
    really are that model's.
    """
    if (output is None) == (name is None):
        raise ConfigError("give exactly one of --output DIR or --name MODEL")
    conversion = plan_tf_checkpoint(path, config=config, expected=name)
    vocab_path = Path(vocab) if vocab else conversion.vocab
    if vocab_path is None:
        raise ConfigError(f"{conversion.source.path}: no vocab.txt beside the checkpoint; pass --vocab PATH")
    log.info(
        "%s: %d tensors -> %s; skipped %d optimizer/training-state tensors%s",
        conversion.source.path, len(conversion.source.shapes),
        ", ".join(f"{role} ({len(plan.specs)})" for role, plan in conversion.plans.items()),
        conversion.skipped_training_state,
        f" and {len(conversion.skipped_task_heads)} fine-tuning head tensors" if conversion.skipped_task_heads else "",
    )
    written: dict[str, Path] = {}
    disc = _expected_disc(name)
    fresh: list[Path] = []  # directories this call created
    out_created = output is not None and not Path(output).exists()
    try:
        _write_halves(conversion, written, fresh, disc, output, vocab_path, force)
    except BaseException:
        # both halves or neither: remove a half this call wrote (kill -9 can still leave one complete half,
        # never a partial directory; re-running completes it, the fingerprint matches)
        for path in fresh:
            shutil.rmtree(path, ignore_errors=True)
        if out_created and Path(output).is_dir() and not any(Path(output).iterdir()):  # type: ignore[arg-type]
            Path(output).rmdir()  # type: ignore[arg-type]
        raise
    return written


def _write_halves(conversion: TFConversion, written: dict[str, Path], fresh: list[Path], disc: Variant | None,
                  output: str | Path | None, vocab_path: Path, force: bool) -> None:
    from ..store import store_path

    for role, plan in conversion.plans.items():
        matches = match_sizes(plan.sizes, role)  # type: ignore[arg-type]
        variant = _variant_for(disc, role) if disc else (matches[0] if matches else None)
        target = store_path(variant.name) if disc and variant else Path(output) / role  # type: ignore[arg-type]
        meta = {
            "role": role, "head": plan.head, "variant": variant.name if variant else None,
            "source": str(conversion.source.path), "source_format": "tensorflow",
            "fingerprint": f"{conversion.fingerprint}:{role}",
        }
        existed = target.exists()
        written[role] = write_model_dir(plan, conversion.source, target, vocab_path, meta, force)
        if not existed:
            fresh.append(written[role])
