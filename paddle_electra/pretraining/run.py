"""``run_pretraining``: continue (or start) ELECTRA pretraining on a text corpus, then export both halves.

The run directory holds ``settings.json``, ``curve.jsonl`` (loss, MLM loss, discriminator loss, accuracies,
learning rate, tokens/s), ``checkpoints/step-N/`` (checksummed, with the data stream's position) and, at the end,
``discriminator/`` and ``generator/`` in the converter's format (plus ``tf/`` and ``hf/`` when asked). Because the
layout equals ``convert_tf_checkpoint``'s output, a finished run directory is itself a valid ``--model`` for the
next run, for fine-tuning (``discriminator/``) and for hub modules.

The optimizer is the original's AdamWeightDecay (:class:`~..training.optim.SeedAdamW`: no bias correction,
weight decay 0.01 except LayerNorm/bias, global-norm clip 1.0) with linear warmup times linear decay and no
layerwise decay; the loop is :class:`~..training.loop.FineTuner` run as a single "epoch" of ``steps`` steps.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import paddle

from ..catalog import Sizes, get_variant, match_sizes
from ..errors import ConfigError, StoreError
from ..runtime import select_device
from ..training.loop import FineTuner, LoopConfig
from ..training.optim import RecipeConfig
from .data import DOC_FORMATS, BatchSequence, TextStream, corpus_fingerprint, list_text_files
from .masking import SpecialIds, max_predictions_per_seq
from .model import ROLES, ElectraPretrainingModel, Objective, generator_sizes_for, read_model_dir

log = logging.getLogger("paddle_electra.pretraining")

SETTINGS_FILE = "settings.json"
DATA_STATE_FILE = "data_state.pkl"
EXPORT_FORMATS = ("paddle", "tf", "hf")
# Settings a resumed run must share with the checkpoint (they decide which batches it sees).
RESUME_KEYS = ("batch_size", "max_seq_length", "mask_prob", "max_predictions_per_seq", "doc_format",
               "pack_documents", "shuffle_buffer", "seed", "grad_accumulation")


@dataclass
class PretrainSettings:
    """Every option of ``run_pretraining`` / ``paddle-electra pretrain``; defaults are the original's."""

    steps: int
    batch_size: int = 128
    max_seq_length: int = 128
    learning_rate: float = 5e-4
    warmup_steps: int | None = None  # None: the original's 10000, capped at 10 % of steps
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mask_prob: float = 0.15
    max_predictions_per_seq: int | None = None  # None: int((mask_prob + 0.005) * max_seq_length)
    gen_weight: float = 1.0
    disc_weight: float = 50.0
    temperature: float = 1.0
    disallow_correct: bool = False
    doc_format: str = "auto"
    pack_documents: bool = False  # fill examples across document boundaries (corpora of short documents)
    shuffle_buffer: int = 1000
    seed: int = 42
    save_every_steps: int = 1000
    keep_checkpoints: int = 2
    log_every_steps: int = 10
    grad_accumulation: int = 1
    amp: bool = False
    fused_kernels: bool = True  # CPU: encoder layers on paddle_electra.ops' fused kernels
    bf16: bool = False  # CPU: the fused kernels' GEMMs on bfloat16 operands (AVX-512 BF16)
    device: str = "auto"
    resume: bool = True
    from_scratch: bool = False
    generator: str | None = None  # a generator NAME|DIR, or "scratch"
    vocab: str | None = None
    export: tuple[str, ...] = field(default_factory=lambda: ("paddle",))
    stop_after_steps: int | None = None  # end this invocation early (checkpointed); resume continues
    force: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.export, str):
            self.export = tuple(f.strip() for f in self.export.split(",") if f.strip())
        self.export = tuple(dict.fromkeys(("paddle", *self.export)))
        unknown = [f for f in self.export if f not in EXPORT_FORMATS]
        if unknown:
            raise ConfigError(f"unknown export format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)}")
        if self.steps < 1:
            raise ConfigError(f"--steps must be at least 1 (got {self.steps})")
        if self.batch_size < 1 or self.grad_accumulation < 1:
            raise ConfigError("--batch-size and --grad-accumulation must be at least 1")
        if self.doc_format not in DOC_FORMATS:
            raise ConfigError(f"unknown --doc-format {self.doc_format!r}; choose one of {', '.join(DOC_FORMATS)}")
        if not 0.0 < self.mask_prob < 1.0:
            raise ConfigError(f"--mask-prob must be between 0 and 1 (got {self.mask_prob})")
        if self.temperature <= 0:
            raise ConfigError(f"--temperature must be positive (got {self.temperature})")
        if self.max_predictions_per_seq is None:
            self.max_predictions_per_seq = max_predictions_per_seq(self.mask_prob, self.max_seq_length)
        if self.warmup_steps is None:
            self.warmup_steps = min(10000, self.steps // 10)


@dataclass
class InitSpec:
    """Where the two halves start from."""

    disc_sizes: Sizes
    gen_sizes: Sizes
    vocab: Path
    disc_dir: Path | None  # None: random initialisation
    gen_dir: Path | None
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"discriminator": str(self.disc_dir) if self.disc_dir else "scratch",
                "generator": str(self.gen_dir) if self.gen_dir else "scratch", "description": self.description,
                "disc_sizes": asdict(self.disc_sizes), "gen_sizes": asdict(self.gen_sizes)}


# ---------------------------------------------------------------------------------------------- init
def _check_head(path: Path, head: str, want: str) -> None:
    if head != want:
        other = "discriminator" if want == "generator" else "generator"
        hint = f"; it holds a {head} — pass its {other} companion instead" if head == other else ""
        raise ConfigError(f"{path} is not a {want} directory (stored head {head!r}){hint}. Pretraining needs "
                          "both ELECTRA halves with their pretraining heads, as `paddle-electra convert` writes them")


def resolve_init(model: str, settings: PretrainSettings, out: Path) -> InitSpec:
    """Find the discriminator/generator pair (or the sizes, from scratch) that ``model`` names."""
    from ..sources import identify, models_for
    from ..store import resolve

    found = identify(model)
    disc_dir: Path | None = None
    gen_dir: Path | None = None
    disc_sizes: Sizes | None = None
    description = str(model)
    if found.kind == "hf":
        raise ConfigError(f"{found.path} is one HuggingFace half; pretraining needs both ELECTRA halves: convert the "
                          "discriminator and the generator, then pass the directory holding discriminator/ and "
                          "generator/ (or --generator DIR)")
    if found.kind != "name":
        disc_dir, gen_dir = models_for(model, out / "init")
    else:
        variant = get_variant(model)
        disc_variant = variant.half("discriminator")
        description = disc_variant.name
        if settings.from_scratch:
            disc_sizes = disc_variant.sizes
            try:
                disc_dir = resolve(disc_variant.name)  # only for its vocab
            except StoreError:
                disc_dir = None
        else:
            disc_dir = resolve(disc_variant.name)
            try:
                gen_dir = resolve(disc_variant.companion)
            except StoreError:
                gen_dir = None
    if settings.generator == "scratch":
        gen_dir = None
    elif settings.generator:
        gen_dir = resolve(settings.generator)

    vocab = Path(settings.vocab).expanduser() if settings.vocab else (disc_dir / "vocab.txt" if disc_dir else None)
    if vocab is None or not vocab.is_file():
        raise ConfigError(f"no vocab.txt for {model}: pass --vocab PATH (HFL's 21128-token vocab)")
    if disc_dir is not None:
        sizes, _, head = read_model_dir(disc_dir)
        _check_head(disc_dir, head, "discriminator")
        disc_sizes = disc_sizes or sizes
    assert disc_sizes is not None
    gen_sizes: Sizes
    if gen_dir is not None and not settings.from_scratch:
        gen_sizes, _, head = read_model_dir(gen_dir)
        _check_head(gen_dir, head, "generator")
    elif settings.from_scratch and gen_dir is not None:
        gen_sizes = read_model_dir(gen_dir)[0]
    elif settings.from_scratch or settings.generator == "scratch":
        gen_sizes = _default_generator_sizes(disc_sizes)
    else:
        raise ConfigError(
            f"{disc_dir} has no generator beside it; ELECTRA pretraining needs both halves. Convert HFL's "
            "TensorFlow release (it holds both: `paddle-electra convert --tf-checkpoint DIR --output DIR`), pass "
            "--generator NAME|DIR, or --generator scratch to start a new generator next to these weights")
    if settings.from_scratch:
        return InitSpec(disc_sizes, gen_sizes, vocab, None, None, f"scratch ({description} sizes)")
    return InitSpec(disc_sizes, gen_sizes, vocab, disc_dir, gen_dir, description)


def _default_generator_sizes(disc: Sizes) -> Sizes:
    """HFL's released generator for a released discriminator size, else the original's H/4 rule."""
    for variant in match_sizes(disc, "discriminator"):
        return variant.half("generator").sizes
    return generator_sizes_for(disc)


def build_model(init: InitSpec, settings: PretrainSettings) -> ElectraPretrainingModel:
    paddle.seed(settings.seed)
    objective = Objective(settings.gen_weight, settings.disc_weight, settings.temperature, settings.disallow_correct)
    model = ElectraPretrainingModel(init.disc_sizes, init.gen_sizes, objective)
    if init.disc_dir is not None:
        disc_state = read_model_dir(init.disc_dir)[1]
        gen_state = read_model_dir(init.gen_dir)[1] if init.gen_dir is not None else None
        model.load_halves(disc_state, gen_state, (str(init.disc_dir), str(init.gen_dir)))
    return model


# ---------------------------------------------------------------------------------------------- loop
class PretrainTrainer(FineTuner):
    """The fine-tuning loop over one endless "epoch" of ``steps`` steps, with the data position checkpointed
    and per-step generator/discriminator metrics in ``curve.jsonl``."""

    def __init__(self, model: ElectraPretrainingModel, batches: BatchSequence, out_dir: Path, config: LoopConfig,
                 tokens_per_step: int):
        self.batches = batches
        self._metrics: dict[str, list[Any]] = {}
        super().__init__(model, model.disc_sizes.num_hidden_layers, out_dir, config,
                         lambda epoch: self.batches, self._loss)
        self.tokens_per_step = tokens_per_step
        self._clock: tuple[float, int] | None = None
        self._fill_checked = False

    def _loss(self, model: ElectraPretrainingModel, feed: dict[str, np.ndarray]) -> paddle.Tensor:
        out = model(**{k: paddle.to_tensor(v) for k, v in feed.items()})
        for key, value in out.items():
            if key != "loss":
                self._metrics.setdefault(key, []).append(value)
        return out["loss"]

    def _train_step(self, micro_batches):
        self._metrics = {}
        if self._clock is None:
            self._clock = (time.time(), self.state.global_step)
        return super()._train_step(micro_batches)

    def _record(self, **entry: Any) -> None:
        if "loss" in entry:
            for key, values in self._metrics.items():
                entry[key] = round(sum(float(v) for v in values) / len(values), 6)
            now = time.time()
            if self._clock is not None and now > self._clock[0]:
                entry["tokens_per_s"] = round((entry["step"] - self._clock[1]) * self.tokens_per_step
                                              / (now - self._clock[0]), 1)
            self._clock = (now, entry["step"])
            self._check_fill(entry.get("real_token_share"))
        super()._record(**entry)

    def _check_fill(self, share: float | None) -> None:
        """Say once when most of each example is padding: the corpus's documents are short."""
        if self._fill_checked or share is None:
            return
        self._fill_checked = True
        if share < 0.5 and not self.batches.stream.pack_documents:
            log.warning("only %.0f%% of the tokens in the first batches are text, the rest padding: the corpus's "
                        "documents are short and each ends its example; --pack-documents fills examples across "
                        "documents", 100 * share)

    def _write_extra_state(self, directory: Path) -> None:
        with open(directory / DATA_STATE_FILE, "wb") as handle:
            pickle.dump(self.batches.state_dict(), handle, protocol=4)

    def save_checkpoint(self) -> Path:
        target = super().save_checkpoint()
        log.info("checkpoint %s", target)
        return target

    def _read_extra_state(self, directory: Path) -> None:
        from ..checkpoint.pdparams import load_pickle_safely

        self.batches.load_state_dict(load_pickle_safely(directory / DATA_STATE_FILE, "checkpoint"))


# ---------------------------------------------------------------------------------------------- export
def _tensor_source(state: dict[str, np.ndarray], label: str):
    from ..convert.core import TensorSource

    return TensorSource(label, {k: tuple(v.shape) for k, v in state.items()}, state.__getitem__)


def export_halves(model: ElectraPretrainingModel, out: Path, vocab: Path, provenance: dict[str, Any],
                  fingerprint: str) -> dict[str, Path]:
    """``out/discriminator`` and ``out/generator`` exactly as ``convert_tf_checkpoint`` writes them."""
    from ..convert.core import build_plan, write_model_dir

    written: dict[str, Path] = {}
    for role in ROLES:
        sizes = model.disc_sizes if role == "discriminator" else model.gen_sizes
        state = model.half_state(role)
        source = _tensor_source(state, f"{out} ({role})")
        plan = build_plan(source, {k: (k, False) for k in state}, sizes, role, "paddle")  # type: ignore[arg-type]
        matches = match_sizes(sizes, role)  # type: ignore[arg-type]
        meta = {
            "role": role, "head": role, "variant": None, "source": str(out),
            "source_format": "paddle-electra-pretraining", "fingerprint": f"{fingerprint}:{role}",
            "architecture": matches[0].name if matches else "custom", **provenance,
        }
        written[role] = write_model_dir(plan, source, out / role, vocab, meta, force=True)
    return written


def _bert_config(sizes: Sizes) -> dict[str, Any]:
    """The ``discriminator.json``/``generator.json`` HFL ships beside its TF checkpoints."""
    return {**sizes.as_config_dict(), "directionality": "bidi"}


def tf_tensors(model: ElectraPretrainingModel, optimizer: Any, step: int, slots: bool = True):
    """``(tf_name, array)`` for one TF checkpoint holding both halves (HFL's layout), Adam slots and global_step."""
    from ..convert.names import param_specs

    moments = {}
    if slots and optimizer is not None:
        moments = {n: (m, v) for n, m, v in zip(optimizer.names, optimizer.m, optimizer.v)}
    seen: set[str] = set()
    for role, scope in (("discriminator", "electra"), ("generator", "generator")):
        sizes = model.disc_sizes if role == "discriminator" else model.gen_sizes
        state = model.half(role).state_dict()
        for spec in param_specs(sizes, role, scope=scope, emb_scope="electra"):  # type: ignore[arg-type]
            if spec.tf is None or spec.tf in seen:
                continue  # the generator's embeddings are the discriminator's: written once, as TF ties them
            seen.add(spec.tf)
            yield spec.tf, state[spec.paddle].numpy().astype(np.float32)
            shared = spec.paddle.startswith("electra.embeddings.")
            name = f"{'discriminator' if shared else role}.{spec.paddle}"
            if name in moments:
                yield spec.tf + "/adam_m", moments[name][0].numpy()
                yield spec.tf + "/adam_v", moments[name][1].numpy()
    yield "global_step", np.asarray(step, dtype=np.int64)


def export_tf(model: ElectraPretrainingModel, optimizer: Any, out: Path, step: int, vocab: Path) -> Path:
    """``out/tf/model.ckpt-STEP`` (+ ``checkpoint``, ``vocab.txt``, ``discriminator.json``, ``generator.json``)."""
    from ..checkpoint.tf_bundle_writer import write_tf_checkpoint
    from ..fs import atomic_dir, write_json

    target = out / "tf"
    with atomic_dir(target, force=True) as tmp:
        write_tf_checkpoint(tmp / f"model.ckpt-{step}", tf_tensors(model, optimizer, step))
        shutil.copyfile(vocab, tmp / "vocab.txt")
        write_json(tmp / "discriminator.json", _bert_config(model.disc_sizes))
        write_json(tmp / "generator.json", _bert_config(model.gen_sizes))
    return target / f"model.ckpt-{step}"


# ---------------------------------------------------------------------------------------------- entry point
def _settings(steps: int, options: dict[str, Any]) -> PretrainSettings:
    known = {f.name for f in fields(PretrainSettings)} - {"steps"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown pretraining option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return PretrainSettings(steps=int(steps), **{k: v for k, v in options.items() if v is not None})


def _prepare_output(out: Path, settings: PretrainSettings, record: dict[str, Any]) -> str:
    """Check the run directory: refuse someone else's, check a resumed run matches; returns the run id."""
    path = out / SETTINGS_FILE
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if not settings.resume:
            if not settings.force:
                raise StoreError(f"{out} holds a pretraining run; resume it (drop --no-resume), pass --force to "
                                 "start over, or choose another --output")
            shutil.rmtree(out / "checkpoints", ignore_errors=True)
            (out / "curve.jsonl").unlink(missing_ok=True)
        else:
            old = previous.get("settings", {})
            clash = [k for k in RESUME_KEYS if k in old and old[k] != record["settings"][k]]
            if previous.get("corpus") != record["corpus"]:
                clash.append("text corpus")
            if previous.get("init", {}).get("disc_sizes") != record["init"]["disc_sizes"]:
                clash.append("model sizes")
            if clash:
                raise ConfigError(f"{out} was started with different {', '.join(clash)}; resuming would not continue "
                                  "the same run. Use the original settings, --no-resume --force, or another --output")
            if old.get("steps") != settings.steps:
                log.warning("steps changed from %s to %d: the learning-rate schedule is recomputed for %d steps",
                            old.get("steps"), settings.steps, settings.steps)
            record["run_id"] = previous.get("run_id", record["run_id"])
    elif out.is_dir() and any(out.iterdir()):
        raise StoreError(f"{out} is not empty and holds no pretraining run; it is never written into, not even with "
                         "--force: choose a new, empty --output")
    from ..fs import MARKER_FILE, refuse_protected

    refuse_protected(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_FILE).write_text("a paddle-electra pretraining run\n", encoding="utf-8")
    from ..fs import write_json

    write_json(path, record)
    return record["run_id"]


def text_encoder(vocab_file: Path) -> tuple[Callable[[str], list[int]], SpecialIds]:
    """How pretraining turns corpus text into ids (HFL's lower-casing WordPiece) and its special ids."""
    from paddlenlp.transformers import ElectraTokenizer

    tokenizer = ElectraTokenizer(vocab_file=str(vocab_file), do_lower_case=True)
    vocab = {line.rstrip("\n"): i for i, line in enumerate(Path(vocab_file).read_text(encoding="utf-8").splitlines())}

    def encode(text: str) -> list[int]:
        return tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))

    return encode, SpecialIds.from_vocab(vocab)


def _batches(files: list[Path], init: InitSpec, settings: PretrainSettings) -> BatchSequence:
    """The masked batches: the corpus streamed in documents, packed to max_seq_length, masked per step."""
    encode, special = text_encoder(init.vocab)
    stream = TextStream(files, encode, special, settings.max_seq_length, settings.seed, settings.doc_format,
                        settings.shuffle_buffer, settings.pack_documents)
    return BatchSequence(stream, settings.batch_size, settings.steps * settings.grad_accumulation,
                         settings.mask_prob, settings.max_predictions_per_seq, settings.seed)


def _export(net, trainer, out: Path, init: InitSpec, settings: PretrainSettings, state, text: str,
            run_id: str) -> dict[str, Any]:
    """Both halves as Paddle model directories (with their provenance), plus the TF / HF exports asked for."""
    tokens_per_step = settings.batch_size * settings.grad_accumulation * settings.max_seq_length
    provenance = {"pretraining": {
        "step": state.global_step, "total_steps": settings.steps, "init": init.description,
        "init_dirs": {"discriminator": init.to_json()["discriminator"], "generator": init.to_json()["generator"]},
        "text": text, "run": str(out.absolute()), "run_id": run_id,
        "tokens_seen": state.global_step * tokens_per_step, "finished": state.global_step >= settings.steps,
    }}
    written = export_halves(net, out, init.vocab, provenance, f"pretrain:{run_id}")
    result: dict[str, Any] = {"step": state.global_step, **written, "tf": None, "hf": None}
    if "tf" in settings.export:
        result["tf"] = export_tf(net, trainer.optimizer, out, state.global_step, init.vocab)
    if "hf" in settings.export:
        from ..convert.hf import export_hf

        result["hf"] = {role: export_hf(written[role], out / "hf" / role, force=True) for role in ROLES}
    return result


def run_pretraining(model: str, text_dir: str, steps: int, output_dir: str, **options: Any) -> dict[str, Any]:
    """Continue ELECTRA pretraining of ``model`` on the text under ``text_dir`` for ``steps`` steps.

    ``model``: a catalog name (both halves from the local store), a directory with ``discriminator/`` and
    ``generator/`` (``paddle-electra convert --output`` or a previous run), a discriminator directory (with
    ``generator=``), or an HFL TensorFlow checkpoint directory (converted first). ``from_scratch=True`` uses
    only the sizes (and vocab). Options: the fields of :class:`PretrainSettings`.

    Returns ``{"step", "discriminator", "generator", "tf", "hf", "last"}`` (paths; ``last`` is the final curve
    entry). Resumes from the newest complete checkpoint in ``output_dir`` unless ``resume=False``.
    """
    from ..tokenizer import check_vocab
    from ..training.loop import LoopConfig

    settings = _settings(steps, options)
    out = Path(output_dir).expanduser()
    device = select_device(settings.device, settings.amp, settings.bf16)
    files = list_text_files(text_dir)
    init = resolve_init(model, settings, out)
    check_vocab(init.vocab, init.disc_sizes.vocab_size)
    if settings.max_seq_length > init.disc_sizes.max_position_embeddings:
        raise ConfigError(f"--max-seq-length {settings.max_seq_length} exceeds the model's "
                          f"{init.disc_sizes.max_position_embeddings} position embeddings")
    record = {"settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
              "init": init.to_json(), "text": str(Path(text_dir).expanduser().absolute()),
              "corpus": corpus_fingerprint(files), "run_id": uuid.uuid4().hex[:16]}
    run_id = _prepare_output(out, settings, record)

    batches = _batches(files, init, settings)
    net = build_model(init, settings)
    recipe = RecipeConfig(learning_rate=settings.learning_rate, layerwise_lr_decay=1.0,
                          weight_decay=settings.weight_decay, warmup_proportion=0.0,
                          warmup_steps=int(settings.warmup_steps or 0), max_grad_norm=settings.max_grad_norm)
    loop = LoopConfig(epochs=1.0, seed=settings.seed, save_every_steps=settings.save_every_steps,
                      keep_checkpoints=settings.keep_checkpoints, log_every_steps=settings.log_every_steps,
                      grad_accumulation=settings.grad_accumulation, amp=settings.amp, recipe=recipe,
                      fused_kernels=settings.fused_kernels, bf16=settings.bf16)
    tokens_per_step = settings.batch_size * settings.grad_accumulation * settings.max_seq_length
    trainer = PretrainTrainer(net, batches, out, loop, tokens_per_step)
    log.info("pretraining %s on %s: %d files from %s, %d steps x %d x %d tokens, lr %g (warmup %d), "
             "generator H=%d L=%d, discriminator H=%d L=%d -> %s", init.description, device, len(files), text_dir,
             settings.steps, settings.batch_size * settings.grad_accumulation, settings.max_seq_length,
             settings.learning_rate, settings.warmup_steps, init.gen_sizes.hidden_size,
             init.gen_sizes.num_hidden_layers, init.disc_sizes.hidden_size, init.disc_sizes.num_hidden_layers, out)

    state = trainer.train(resume=settings.resume, stop_after_steps=settings.stop_after_steps)
    trainer.save_if_unsaved()

    result = _export(net, trainer, out, init, settings, state, record["text"], run_id)
    lines = trainer.curve_path.read_text(encoding="utf-8").splitlines() if trainer.curve_path.is_file() else []
    losses = [json.loads(line) for line in lines if '"loss"' in line]
    result["last"] = losses[-1] if losses else None
    log.info("pretraining %s at step %d/%d; discriminator -> %s, generator -> %s",
             "finished" if state.global_step >= settings.steps else "paused", state.global_step, settings.steps,
             result["discriminator"], result["generator"])
    return result
