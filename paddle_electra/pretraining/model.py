"""ELECTRA's replaced-token-detection model with HFL's two sizes: a small generator and a discriminator that share
one embedding table, as google-research/electra ``run_pretraining.py`` ``PretrainingModel`` builds it.

PaddleNLP's ``ElectraForTotalPretraining`` builds both halves from one config, so it cannot hold HFL's small
generator (H=64, 1 head, I=256 next to the discriminator's H=256). Here each half is the ordinary PaddleNLP class
with its own config (``ElectraDiscriminator`` and ``ElectraGenerator``, the classes the converter's directories
load into), and the generator's ``electra.embeddings`` sub-layer *is* the discriminator's: one word / position /
token-type table and one embedding LayerNorm (TF's ``electra/embeddings/*``), while each half keeps its own
``embeddings_project``. Gradients from both losses accumulate in the shared table.

One forward pass is the original's training graph:

1. the generator reads the masked input; its outputs at the masked positions only go through
   ``generator_predictions`` (dense -> gelu -> LayerNorm) and the tied output matrix plus ``output_bias``;
2. MLM loss = mean negative log-likelihood over the prediction slots (``masked_lm_weights``);
3. a token is sampled per slot from ``softmax(logits / temperature)`` with Gumbel-max noise
   ``-log(-log(u + 1e-9) + 1e-9)`` (``disallow_correct`` subtracts 1000 from the true token's logit first); the
   sample carries no gradient;
4. the samples replace the original tokens at the masked positions; a token is "fake" only if it differs from the
   original (a correct sample counts as real);
5. discriminator loss = sigmoid cross-entropy per token, averaged over real (``input_mask``) tokens;
6. total = ``gen_weight`` * MLM + ``disc_weight`` * discriminator (1 and 50).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..catalog import Sizes
from ..compat import rtd_logits
from ..errors import ConfigError

log = logging.getLogger("paddle_electra.pretraining")

SHARED_FIELDS = ("vocab_size", "embedding_size", "max_position_embeddings", "type_vocab_size")
ROLES = ("discriminator", "generator")


@dataclass(frozen=True)
class Objective:
    """The loss settings of ``configure_pretraining.py`` (defaults are the original's)."""

    gen_weight: float = 1.0
    disc_weight: float = 50.0
    temperature: float = 1.0
    disallow_correct: bool = False


def generator_sizes_for(disc: Sizes, hidden_fraction: float = 0.25, layer_fraction: float = 1.0) -> Sizes:
    """The original's ``get_generator_config``: H/4 hidden, same depth, 4H feed-forward, max(1, H/64) heads."""
    hidden = int(round(disc.hidden_size * hidden_fraction))
    return Sizes(
        embedding_size=disc.embedding_size, hidden_size=hidden,
        num_hidden_layers=int(round(disc.num_hidden_layers * layer_fraction)),
        num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden, vocab_size=disc.vocab_size,
        max_position_embeddings=disc.max_position_embeddings, type_vocab_size=disc.type_vocab_size,
    )


def check_pair(disc: Sizes, gen: Sizes) -> None:
    """Tied embeddings need the same table shapes in both halves."""
    diff = [f"{f} {getattr(disc, f)} vs {getattr(gen, f)}" for f in SHARED_FIELDS
            if getattr(disc, f) != getattr(gen, f)]
    if diff:
        raise ConfigError(f"the generator cannot share the discriminator's embeddings ({'; '.join(diff)}); "
                          "pass the generator that was pretrained with this discriminator")


class ElectraPretrainingModel(nn.Layer):
    """Generator + discriminator of different sizes with tied embeddings; ``forward`` returns the ELECTRA loss."""

    def __init__(self, disc_sizes: Sizes, gen_sizes: Sizes, objective: Objective | None = None,
                 **config_overrides: Any):
        super().__init__()
        from paddlenlp.transformers import ElectraDiscriminator, ElectraGenerator

        from ..modeling.config import electra_config

        check_pair(disc_sizes, gen_sizes)
        self.disc_sizes, self.gen_sizes = disc_sizes, gen_sizes
        self.objective = objective or Objective()
        self.discriminator = ElectraDiscriminator(electra_config(disc_sizes, "ElectraDiscriminator",
                                                                 **config_overrides))
        self.generator = ElectraGenerator(electra_config(gen_sizes, "ElectraGenerator", **config_overrides))
        # Tie: the generator looks tokens up in the discriminator's embeddings (TF's electra/embeddings/*).
        self.generator.electra.embeddings = self.discriminator.electra.embeddings

    # ------------------------------------------------------------------------------------------ weights
    @property
    def embeddings(self) -> nn.Layer:
        return self.discriminator.electra.embeddings

    def half(self, role: str) -> nn.Layer:
        if role not in ROLES:
            raise ConfigError(f"unknown half {role!r}; choose discriminator or generator")
        return self.discriminator if role == "discriminator" else self.generator

    def half_state(self, role: str) -> dict[str, np.ndarray]:
        """One half's weights under the converter's names (the generator's include the shared embeddings)."""
        return {k: v.numpy() for k, v in self.half(role).state_dict().items()}

    def load_halves(self, disc_state: dict[str, Any], gen_state: dict[str, Any] | None,
                    sources: tuple[str, str] = ("discriminator", "generator")) -> None:
        """Fill both halves from converter-style state dicts; every parameter must be present with its shape.

        The shared embeddings come from the discriminator. A generator whose own copy differs (an untied
        generator) is noted in the log; its projection and encoder are still used.
        """
        _load_exact(self.discriminator, disc_state, sources[0])
        if gen_state is None:
            return
        shared = {k for k in gen_state if k.startswith("electra.embeddings.")}
        differs = [k for k in sorted(shared) if k in disc_state
                   and not np.array_equal(np.asarray(_np(gen_state[k])), np.asarray(_np(disc_state[k])))]
        if differs:
            log.warning("%s: the generator's embeddings differ from the discriminator's (%s); the pretraining model "
                        "ties them and keeps the discriminator's", sources[1], differs[0])
        own = {k: v for k, v in gen_state.items() if k not in shared}
        _load_exact(self.generator, own, sources[1], skip_prefix="electra.embeddings.")

    # ------------------------------------------------------------------------------------------ forward
    def forward(self, input_ids, input_mask, segment_ids, masked_input_ids, masked_lm_positions, masked_lm_ids,
                masked_lm_weights, gather_index, scatter_index):
        """One ELECTRA step on a masked batch (see module docstring); returns a dict of scalar tensors.

        ``gather_index`` [B*N] are the slots' positions in the flattened batch; ``scatter_index`` [B*N] the same
        for the first slot of each distinct position and ``B*L`` (a dummy cell) for the rest.
        """
        objective = self.objective
        batch, length = input_ids.shape
        slots = masked_lm_positions.shape[1]
        # --- generator (masked language model on the prediction slots only)
        gen_hidden = self.generator.electra(masked_input_ids, token_type_ids=segment_ids, attention_mask=input_mask)
        relevant = paddle.gather(gen_hidden.reshape([batch * length, -1]), gather_index)
        hidden = self.generator.generator_predictions(relevant.reshape([batch, slots, -1]))
        table = self.embeddings.word_embeddings.weight
        logits = paddle.matmul(hidden, table, transpose_y=True) + self.generator.generator_lm_head_bias
        logits = logits.astype("float32")
        # the fused softmax + cross-entropy kernel: Paddle's CPU log_softmax takes ~1000x longer on this
        # [B, N, 21128] tensor (3.5 s for batch 4 on 2 cores), which made a step 30x slower than it should be
        nll = F.cross_entropy(logits, masked_lm_ids.unsqueeze(-1).astype("int64"), reduction="none").squeeze(-1)
        weight_sum = masked_lm_weights.sum() + 1e-6
        gen_loss = (masked_lm_weights * nll).sum() / weight_sum

        # --- sample replacements (no gradient), build the discriminator's input
        with paddle.no_grad():
            sample_logits = logits.detach() / objective.temperature
            if objective.disallow_correct:
                sample_logits = sample_logits - 1000.0 * F.one_hot(masked_lm_ids, logits.shape[-1])
            uniform = paddle.rand(sample_logits.shape, dtype="float32")
            gumbel = -paddle.log(-paddle.log(uniform + 1e-9) + 1e-9)
            sampled = paddle.argmax(sample_logits + gumbel, axis=-1)
            flat_ids = paddle.concat([input_ids.reshape([-1]), paddle.zeros([1], dtype=input_ids.dtype)])
            fake_flat = paddle.scatter(flat_ids, scatter_index, sampled.reshape([-1]).astype(input_ids.dtype),
                                       overwrite=True)
            fake_ids = fake_flat[: batch * length].reshape([batch, length])
            labels = (fake_ids != input_ids).astype("float32")

        # --- discriminator (replaced-token detection on every real token)
        disc_hidden = self.discriminator.electra(fake_ids, token_type_ids=segment_ids, attention_mask=input_mask)
        disc_logits = rtd_logits(self.discriminator.discriminator_predictions, disc_hidden).astype("float32")
        token_weights = input_mask.astype("float32")
        token_sum = token_weights.sum() + 1e-6
        per_token = F.binary_cross_entropy_with_logits(disc_logits, labels, reduction="none")
        disc_loss = (per_token * token_weights).sum() / token_sum
        loss = objective.gen_weight * gen_loss + objective.disc_weight * disc_loss

        with paddle.no_grad():
            hits = (paddle.argmax(logits, axis=-1) == masked_lm_ids).astype("float32")
            sampled_hits = (sampled == masked_lm_ids).astype("float32")
            disc_right = ((disc_logits > 0).astype("float32") == labels).astype("float32")
            metrics = {
                "gen_loss": gen_loss.detach(),
                "disc_loss": disc_loss.detach(),
                "mlm_accuracy": (masked_lm_weights * hits).sum() / weight_sum,
                "sampled_accuracy": (masked_lm_weights * sampled_hits).sum() / weight_sum,
                "disc_accuracy": (disc_right * token_weights).sum() / token_sum,
                "replaced_share": (labels * token_weights).sum() / token_sum,
                "real_token_share": token_sum / float(batch * length),
            }
        return {"loss": loss, **metrics}


def _np(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def _load_exact(layer: nn.Layer, state: dict[str, Any], source: str, skip_prefix: str | None = None) -> None:
    own = layer.state_dict()
    wanted = {k: v for k, v in own.items() if not (skip_prefix and k.startswith(skip_prefix))}
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    if missing or unexpected:
        what = (f"missing {', '.join(missing[:3])}" if missing else "") + \
            ("; " if missing and unexpected else "") + (f"unexpected {', '.join(unexpected[:3])}" if unexpected else "")
        raise ConfigError(f"{source}: weights do not fit the pretraining model ({what}); pass a directory written by "
                          "`paddle-electra convert` (discriminator/ and generator/) or a pretraining export")
    for key, param in wanted.items():
        value = _np(state[key])
        if tuple(value.shape) != tuple(param.shape):
            raise ConfigError(f"{source}: {key} has shape {list(value.shape)}, the model expects {list(param.shape)}")
        param.set_value(value.astype(np.float32))


def read_model_dir(path: Path) -> tuple[Sizes, dict[str, np.ndarray], str]:
    """Sizes, weights and stored head of a converted model directory."""
    from ..modeling.config import read_config_json, sizes_from_dict
    from ..modeling.load import stored_head
    from ..store import CONFIG_FILE, WEIGHTS_FILE

    sizes = sizes_from_dict(read_config_json(path / CONFIG_FILE), str(path / CONFIG_FILE))
    from ..checkpoint.pdparams import load_pdparams

    state = load_pdparams(path / WEIGHTS_FILE)
    return sizes, state, stored_head(path)
