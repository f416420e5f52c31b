"""Hugging Face ELECTRA (``model.safetensors`` / ``pytorch_model.bin``) <-> Paddle model directories.

The head is recognised from the tensor names (``discriminator_predictions`` -> discriminator,
``generator_predictions`` -> generator, ``classifier``/``qa_outputs`` -> task heads). Sizes come from the
shapes, not from config.json, because two hfl uploads ship a wrong one (see ``catalog.KNOWN_HF_CONFIG_BUGS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import KNOWN_HF_CONFIG_BUGS, Sizes, get_variant, match_sizes
from ..errors import CheckpointError, ConfigError, ConversionError
from ..modeling.config import read_config_json, sizes_from_dict
from .core import Plan, TensorSource, build_plan, check_expected, infer_sizes, map_names, write_model_dir
from .names import HF_ARCH, Head, param_specs, renamer, strip_prefix

log = logging.getLogger("paddle_electra.convert")

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HF_SKIP = ("electra.embeddings.position_ids", "embeddings.position_ids")
TIED_HEAD = "generator_lm_head.weight"


def find_weights(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such file or directory; pass a Hugging Face model directory or file")
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    if any(path.glob("*.index.json")):
        raise CheckpointError(f"{path}: sharded checkpoints (*.index.json) are not supported; ELECTRA models "
                              "fit one file — re-save with `save_pretrained(max_shard_size='2GB')`")
    raise CheckpointError(f"{path}: no {' or '.join(WEIGHT_FILES)} found; is this a Hugging Face model directory?")


def open_hf_source(weights: Path) -> TensorSource:
    """Open the tensors: safetensors lazily (one tensor read per request); .bin through the safe unpickler,
    which holds the state dict (the zip/pickle layout gives no cheap random access)."""
    if weights.suffix == ".safetensors":
        from safetensors import safe_open

        from ..checkpoint.safetensors_io import SafetensorsReader

        try:
            with safe_open(str(weights), framework="np") as handle:
                names = list(handle.keys())
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{weights}: not a readable safetensors file ({err}); the file is truncated or "
                                  "corrupt — download it again") from None
        reader = SafetensorsReader(weights)
        return TensorSource(str(weights), {n: reader.shapes[n] for n in names}, reader.read)
    else:
        from ..checkpoint.torch_pickle import load_torch_state_dict

        tensors = load_torch_state_dict(weights)
        shapes = {n: tuple(t.shape) for n, t in tensors.items()}
    return TensorSource(str(weights), shapes, tensors.__getitem__)


def detect_head(names: set[str]) -> Head:
    if any(n.startswith("discriminator_predictions.") for n in names):
        return "discriminator"
    if any(n.startswith("generator_predictions.") for n in names):
        return "generator"
    if "qa_outputs.weight" in names:
        return "qa"
    if "classifier.dense.weight" in names:
        return "seq-cls"
    if "classifier.weight" in names:
        return "token-cls"
    return "model"


def _fingerprint(weights: Path) -> str:
    from ..fs import sha256_file

    return "hf:" + sha256_file(weights)[:32]


def _check_tied_head(source: TensorSource, prefixed: bool) -> None:
    """HF stores the generator's output matrix tied to the word embeddings; an untied one cannot be kept."""
    if TIED_HEAD not in source.shapes:
        return
    word = ("electra." if prefixed else "") + "embeddings.word_embeddings.weight"
    if not np.array_equal(source.read(TIED_HEAD), source.read(word)):
        raise ConversionError(f"{source.path}: {TIED_HEAD} differs from {word}; untied generator output "
                              "embeddings are not supported (HFL's generators are tied)")


@dataclass
class HFConversion:
    """What was found in a Hugging Face checkpoint: the one model it holds, planned for Paddle."""

    weights: Path
    source: TensorSource
    plan: Plan
    head: Head


def plan_hf(path: str | Path, expected: str | None = None) -> HFConversion:
    """Read names and shapes only and plan the conversion; raises before anything is written."""
    weights = find_weights(path)
    source = open_hf_source(weights)
    names = set(source.shapes)
    head = detect_head(names)
    prefixed = any(n.startswith("electra.") for n in names)
    if not prefixed and any(n.startswith("bert.") for n in names):
        raise ConversionError(f"{weights}: a BERT checkpoint (tensors under bert.); expected ELECTRA tensors such "
                              "as electra.embeddings.word_embeddings.weight — convert an HFL ELECTRA model")
    if not any("embeddings.word_embeddings" in n for n in names):
        raise ConversionError(f"{weights}: no ELECTRA embeddings (found e.g. {', '.join(sorted(names)[:3])}); "
                              "is this an ELECTRA model?")
    rename = renamer("hf", ("model", head) if head != "model" else ("model",), prefixed=prefixed)
    mapped = map_names(source, rename)
    config_path = weights.parent / "config.json"
    config = read_config_json(config_path) if config_path.is_file() else {}
    hint = _config_sizes(config, config_path)
    sizes = infer_sizes(source, mapped, hint, head, prefix="electra." if prefixed else "")
    if hint is not None and hint != sizes:
        bug = KNOWN_HF_CONFIG_BUGS.get(config.get("_name_or_path", ""), "")
        log.warning("%s disagrees with the weights (%s); using the sizes of the weights%s", config_path,
                    _diff(hint, sizes), f" — known upload bug: {bug}" if bug else "")
    num_labels = _num_labels(source, mapped, head, prefixed)
    if expected is not None and head in ("discriminator", "generator", "model"):
        variant = get_variant(expected)
        check_expected(source, mapped, sizes, variant, head if head != "model" else variant.role)
    plan = build_plan(source, mapped, sizes, head, "hf", num_labels=num_labels, prefixed=prefixed)
    plan.ignored.extend(n for n in names if n in HF_SKIP or n == TIED_HEAD)
    leftover = [n for n in names if n not in plan.used_sources()]
    if leftover:
        raise ConversionError(f"{weights}: tensors not part of an ELECTRA {head}: {', '.join(sorted(leftover)[:5])}")
    return HFConversion(weights, source, plan, head)


def convert_hf(path: str | Path, output: str | Path | None = None, name: str | None = None,
               vocab: str | Path | None = None, force: bool = False) -> Path:
    """Convert one HF ELECTRA model (any head) to a Paddle directory at ``output`` or in the store as ``name``."""
    from ..store import store_path

    if (output is None) == (name is None):
        raise ConfigError("give exactly one of --output DIR or --name MODEL")
    conversion = plan_hf(path, expected=name)
    weights, source, plan, head = conversion.weights, conversion.source, conversion.plan, conversion.head
    _check_tied_head(source, plan.prefixed)
    vocab_path = Path(vocab) if vocab else weights.parent / "vocab.txt"
    if not vocab_path.is_file():
        raise ConfigError(f"{weights.parent}: no vocab.txt; pass --vocab PATH (HFL's vocab has 21128 lines)")
    matches = match_sizes(plan.sizes)
    meta = {
        "role": head if head in ("discriminator", "generator") else None, "head": head,
        "variant": get_variant(name).name if name else (matches[0].name if matches else None),
        "source": str(weights), "source_format": "huggingface", "fingerprint": _fingerprint(weights),
    }
    target = store_path(name) if name else Path(output)  # type: ignore[arg-type]
    return write_model_dir(plan, source, target, vocab_path, meta, force)


def _config_sizes(config: dict[str, Any], path: Path) -> Sizes | None:
    try:
        return sizes_from_dict(config, str(path)) if config else None
    except ConfigError:
        return None


def _diff(a: Sizes, b: Sizes) -> str:
    return ", ".join(f"{k} {getattr(a, k)} vs {getattr(b, k)}" for k in a.__dict__ if getattr(a, k) != getattr(b, k))


def _num_labels(source: TensorSource, mapped: dict[str, tuple[str, bool]], head: Head, prefixed: bool) -> int:
    for paddle in ("classifier.out_proj.weight", "classifier.weight"):
        if paddle in mapped and head in ("seq-cls", "token-cls", "qa"):
            name, _ = mapped[paddle]
            return int(source.shapes[name][0])
    return 2


def export_hf(model_dir: str | Path, output: str | Path, force: bool = False) -> Path:
    """Paddle model directory -> HF ``model.safetensors`` + ``config.json`` that transformers loads."""
    from ..checkpoint.pdparams import load_pdparams
    from ..checkpoint.safetensors_io import save_safetensors
    from ..fs import atomic_dir, write_json
    from ..store import CONFIG_FILE, WEIGHTS_FILE, read_meta, resolve

    model_dir = resolve(model_dir)
    config = read_config_json(model_dir / CONFIG_FILE)
    sizes = sizes_from_dict(config, str(model_dir / CONFIG_FILE))
    head = _paddle_head(config, read_meta(model_dir))
    state = load_pdparams(model_dir / WEIGHTS_FILE)
    num_labels = len(config["id2label"]) if config.get("id2label") else int(config.get("num_labels", 2))
    specs = param_specs(sizes, head, num_labels)
    if not any(k.startswith("electra.") for k in state):
        specs = strip_prefix(specs)
    missing = [s.paddle for s in specs if s.paddle not in state]
    if missing:
        raise ConversionError(f"{model_dir / WEIGHTS_FILE}: missing {', '.join(missing[:3])}; "
                              "the directory does not hold a complete model")
    tensors = {s.hf: np.ascontiguousarray(state[s.paddle].T if s.transpose_hf else state[s.paddle]) for s in specs}
    hf_config = {k: config[k] for k in Sizes.__dataclass_fields__}
    hf_config.update({
        "architectures": [HF_ARCH[head]], "model_type": "electra", "hidden_act": "gelu",
        "layer_norm_eps": config.get("layer_norm_eps", 1e-12), "pad_token_id": config.get("pad_token_id", 0),
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    })
    if head in ("seq-cls", "token-cls"):
        hf_config["id2label"] = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(num_labels)}
    with atomic_dir(Path(output), force=force, fingerprint=None, inputs=[model_dir]) as tmp:
        save_safetensors(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        write_json(tmp / "config.json", hf_config)
        (tmp / "vocab.txt").write_bytes((model_dir / "vocab.txt").read_bytes())
        write_json(tmp / "tokenizer_config.json", {"do_lower_case": True, "tokenizer_class": "ElectraTokenizer"})
    log.info("wrote %s (%s, HF %s)", output, head, HF_ARCH[head])
    return Path(output)


def _paddle_head(config: dict[str, Any], meta: dict[str, Any]) -> Head:
    if meta.get("head"):
        return meta["head"]
    arch = (config.get("architectures") or ["ElectraModel"])[0]
    from .names import PADDLE_ARCH

    for head, name in PADDLE_ARCH.items():
        if name == arch:
            return head
    raise ConfigError(f"config.json architecture {arch!r} is not an ELECTRA model this package can export")


