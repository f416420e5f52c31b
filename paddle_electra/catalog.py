"""The one table of HFL's Chinese ELECTRA releases.

Every size in the project comes from here (or from the shapes of a checkpoint): nothing else hard-codes a
hidden size. Sizes are those of ymcui/Chinese-ELECTRA ``config/*.json``; two Hugging Face uploads ship wrong
configs (``KNOWN_HF_CONFIG_BUGS``), which is why converters trust tensor shapes over a shipped config.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .errors import ConfigError

VOCAB_SIZE = 21128  # Google's Chinese WordPiece vocab; PaddleNLP's ElectraConfig() default (22608) is wrong

Role = Literal["discriminator", "generator"]


@dataclass(frozen=True)
class Sizes:
    """The shape-defining hyperparameters of one ELECTRA transformer (discriminator or generator)."""

    embedding_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    vocab_size: int = VOCAB_SIZE
    max_position_embeddings: int = 512
    type_vocab_size: int = 2

    def __post_init__(self) -> None:

        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"model size {name}={value!r} must be a positive integer")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"num_attention_heads={self.num_attention_heads} does not divide hidden_size="
                              f"{self.hidden_size}; such a model cannot be built — use a head count that divides it "
                              "(HFL: small 4, base 12, large 16)")

    def as_config_dict(self) -> dict[str, Any]:
        """PaddleNLP/HF-compatible config fields, with the seed's fixed numerics (erf gelu, eps 1e-12)."""
        return {
            **asdict(self),
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02,
            "layer_norm_eps": 1e-12,
            "pad_token_id": 0,
            "model_type": "electra",
        }


# Sizes per model size: (discriminator, generator). The generator shares the discriminator's embeddings.
SIZE_TABLE: dict[str, tuple[Sizes, Sizes]] = {
    "small": (Sizes(128, 256, 12, 4, 1024), Sizes(128, 64, 12, 1, 256)),
    "small-ex": (Sizes(256, 256, 24, 4, 1024), Sizes(256, 64, 24, 1, 256)),
    "base": (Sizes(768, 768, 12, 12, 3072), Sizes(768, 192, 12, 3, 768)),
    "large": (Sizes(1024, 1024, 24, 16, 4096), Sizes(1024, 256, 24, 4, 1024)),
}

# Families: name prefix for our names, infix for HF ids, which sizes were released, and the seed's note.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "original": ("chinese-electra", "chinese-electra", ("small", "small-ex", "base", "large"), "20G corpus"),
    "180g": ("chinese-electra-180g", "chinese-electra-180g", ("small", "small-ex", "base", "large"), "180G corpus"),
    "legal": ("chinese-legal-electra", "chinese-legal-electra", ("small", "base", "large"), "legal-domain corpus"),
}

KNOWN_HF_CONFIG_BUGS = {
    "hfl/chinese-legal-electra-small-generator": "config.json is the discriminator's (H=256); the weights are H=64",
    "hfl/chinese-electra-small-ex-generator": "config.json's layer count disagrees with the shipped layer weights",
}


@dataclass(frozen=True)
class Variant:
    """One released model: a discriminator or a generator of one size in one family."""

    name: str  # our name; the discriminator has no suffix: chinese-electra-small
    family: str
    size: str
    role: Role
    sizes: Sizes
    hf_id: str
    companion: str  # the other half of the same pretraining run (disc <-> gen)

    @property
    def description(self) -> str:
        return f"ELECTRA-{self.size} {self.role}, {FAMILIES[self.family][3]}"

    def half(self, role: str) -> Variant:
        """This release's ``discriminator`` or ``generator`` (itself, or its companion)."""
        return self if self.role == role else get_variant(self.companion)


def _build_catalog() -> dict[str, Variant]:
    catalog: dict[str, Variant] = {}
    for family, (prefix, hf_infix, sizes, _note) in FAMILIES.items():
        for size in sizes:
            disc_sizes, gen_sizes = SIZE_TABLE[size]
            disc_name, gen_name = f"{prefix}-{size}", f"{prefix}-{size}-generator"
            for role, name, companion, role_sizes in (
                ("discriminator", disc_name, gen_name, disc_sizes),
                ("generator", gen_name, disc_name, gen_sizes),
            ):
                hf_id = f"hfl/{hf_infix}-{size}-{role}"
                catalog[name] = Variant(name, family, size, role, role_sizes, hf_id, companion)
    return catalog


CATALOG: dict[str, Variant] = _build_catalog()


def _aliases() -> dict[str, str]:
    """Accept HF ids (``hfl/…-discriminator``), bare ids and underscored hub-module names as well."""
    aliases: dict[str, str] = {}
    for name, variant in CATALOG.items():
        for alias in (variant.hf_id, variant.hf_id.split("/", 1)[1], name.replace("-", "_")):
            aliases[alias] = name
    return aliases


ALIASES = _aliases()


def get_variant(name: str) -> Variant:
    """Look a release up by our name, its HF id, or its hub-module directory name."""
    key = name.strip()
    canonical = key if key in CATALOG else ALIASES.get(key)
    if canonical is None:
        raise ConfigError(
            f"unknown model name {name!r}; known names: {', '.join(CATALOG)} (see `paddle-electra list`)"
        )
    return CATALOG[canonical]


def match_sizes(sizes: Sizes, role: Role | None = None) -> list[Variant]:
    """Releases whose architecture equals ``sizes`` (the 180g/legal families share shapes with the original)."""
    return [v for v in CATALOG.values() if v.sizes == sizes and (role is None or v.role == role)]


def size_name(sizes: Sizes, role: Role | None = None) -> str:
    """Human name of a shape: ``small discriminator``, or ``custom`` if no release has it."""
    matches = match_sizes(sizes, role)
    return f"{matches[0].size} {matches[0].role}" if matches else "custom (no HFL release has these sizes)"


def companion_dir_name(name: str, role: str) -> str:
    """The store name of ``role``'s half for a directory or model name (``x-generator`` <-> ``x``), for hints."""
    base = name.removesuffix("-generator")
    return f"{base}-generator" if role == "generator" else base
