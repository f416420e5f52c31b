"""Table-driven bad inputs for every user-facing entry point (issue 8).

Each case builds its input in a temporary directory and says how it is run: the ``paddle-electra`` CLI in
this process, a script in a subprocess (``run_finetuning.py``, ``examples/``), or the Python API (hub module,
readers). An error case asserts a non-zero exit (CLI) or the expected :class:`ElectraError` subclass (API),
one ``error:`` line naming the file/field and the fix (every ``needle`` appears in it), no traceback, and that
nothing is left at the output path it was given (no directory, no ``.NAME.partial-*`` sibling). A few inputs
must simply work (CRLF line endings, texts longer than the model's positions): they assert the result.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rbkit
import record
from rbkit import FIXTURES, PY, ROOT, flip_byte, leftovers, run_cli, run_proc, truncate, write_classification

from paddle_electra.errors import CheckpointError, ConfigError, DataError, ElectraError, StoreError

TF_TINY = FIXTURES / "tf_tiny"
HF_TINY = FIXTURES / "hf_tiny" / "discriminator"
SMALL = "chinese-electra-small"
LONG = "今天天气很好" * 100  # 600 characters: more tokens than 512 and than the tiny model's 64 positions


@dataclass
class Run:
    """How a case runs and what it must show."""

    call: list | tuple | Callable[[], Any]  # CLI argv (in-process); ("proc", [args]); or an API callable
    needles: tuple[str, ...] = ()  # substrings of the one-line message
    error: type[ElectraError] | None = None  # API: expected exception type
    outputs: tuple[Path, ...] = ()  # must not exist afterwards (no partial output)
    rc: int = 2  # CLI exit status expected on error
    ok: Callable[[Any], None] | None = None  # a case that must work: check its result


class Ctx:
    """What a case's set-up gets: a temporary directory and the shared tiny models (built lazily)."""

    def __init__(self, request, tmp: Path):
        self.request, self.tmp = request, tmp

    @property
    def tiny(self) -> dict[str, Path]:
        return self.request.getfixturevalue("tiny")

    @property
    def disc(self) -> Path:
        return self.tiny["discriminator"]

    @property
    def finetuned(self) -> Path:
        return self.request.getfixturevalue("finetuned")

    def clone(self, src: Path, name: str = "model") -> Path:
        dst = self.tmp / name
        shutil.copytree(src, dst)
        return dst

    def tf_copy(self, name: str = "ckpt", skip: tuple[str, ...] = ()) -> Path:
        dst = self.tmp / name
        dst.mkdir()
        for f in TF_TINY.iterdir():
            if f.name not in skip:
                shutil.copy(f, dst / f.name)
        return dst

    def hf_copy(self, name: str = "hf", weights: str | None = "pytorch_model.bin", vocab: bool = True) -> Path:
        dst = self.tmp / name
        dst.mkdir()
        for f in ["config.json", *(["vocab.txt"] if vocab else []), *([weights] if weights else [])]:
            shutil.copy(HF_TINY / f, dst / f)
        return dst

    def hub(self):
        """paddlehub with the small module installed in a private HUB_HOME and the tiny weights in the store."""
        hub = self.request.getfixturevalue("hub")
        store = self.request.getfixturevalue("private_store") / "models" / SMALL
        if not store.exists():
            shutil.copytree(self.disc, store)
        return hub


CASES: dict[str, tuple[str, str, Callable[[Ctx], Run]]] = {}


def case(area: str, what: str):
    def register(fn: Callable[[Ctx], Run]):
        CASES[f"{area}:{fn.__name__}"] = (area, what, fn)
        return fn

    return register


def _entry(reader, name: str):
    return next(e for e in reader._entries.items() if e[0] == name)[1]


def _tensor_span(name: str) -> tuple[int, int]:
    from paddle_electra.checkpoint.tf_bundle import open_tf_checkpoint

    entry = open_tf_checkpoint(TF_TINY)._entries[name]
    return entry.offset, entry.size


# ------------------------------------------------------------------------------------------------ convert
DATA = "electra_tiny.data-00000-of-00001"


@case("convert", "TF checkpoint whose .data file is truncated to 1000 bytes")
def tf_truncated_data(c: Ctx) -> Run:
    ckpt = c.tf_copy()
    truncate(ckpt / DATA, 1000)
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"], (DATA, "truncated", "re-download"),
               outputs=(c.tmp / "out",))


@case("convert", "TF checkpoint whose .index is truncated")
def tf_truncated_index(c: Ctx) -> Run:
    ckpt = c.tf_copy()
    truncate(ckpt / "electra_tiny.index", 3000)
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"], ("electra_tiny.index", "re-download"),
               outputs=(c.tmp / "out",))


@case("convert", "TF checkpoint with one bit flipped in a discriminator tensor")
def tf_bitflip_discriminator(c: Ctx) -> Run:
    ckpt = c.tf_copy()
    offset, size = _tensor_span("electra/embeddings/word_embeddings")
    flip_byte(ckpt / DATA, offset + size // 2)
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"],
               ("checksum mismatch", "electra/embeddings/word_embeddings", DATA, "re-download"),
               outputs=(c.tmp / "out",))


@case("convert", "TF checkpoint with one bit flipped in a generator tensor (written after the discriminator)")
def tf_bitflip_generator(c: Ctx) -> Run:
    ckpt = c.tf_copy()
    offset, size = _tensor_span("generator/encoder/layer_1/output/dense/kernel")
    flip_byte(ckpt / DATA, offset + size // 2)
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"], ("checksum mismatch", "re-download"),
               outputs=(c.tmp / "out",))  # the discriminator half written first is removed too


@case("convert", "TF checkpoint with one bit flipped in the .index")
def tf_bitflip_index(c: Ctx) -> Run:
    ckpt = c.tf_copy()
    flip_byte(ckpt / "electra_tiny.index", 2000)
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"],
               ("electra_tiny.index", "CRC", "re-download"), outputs=(c.tmp / "out",))


@case("convert", "a BERT TF checkpoint (bert/… variables, written with tf_bundle_writer)")
def tf_bert_checkpoint(c: Ctx) -> Run:
    from paddle_electra.checkpoint.tf_bundle_writer import write_tf_checkpoint

    ckpt = c.tmp / "bert"
    ckpt.mkdir()
    shutil.copy(TF_TINY / "vocab.txt", ckpt)
    z = np.zeros
    write_tf_checkpoint(ckpt / "bert_model.ckpt", [
        ("bert/embeddings/word_embeddings", z((171, 32), "float32")),
        ("bert/embeddings/position_embeddings", z((64, 32), "float32")),
        ("bert/encoder/layer_0/attention/self/query/kernel", z((32, 32), "float32")),
        ("cls/predictions/output_bias", z(171, "float32")),
    ])
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"],
               ("bert_model.ckpt", "a BERT checkpoint", "expected HFL ELECTRA variables"), outputs=(c.tmp / "out",))


@case("convert", "tiny checkpoint converted as --name chinese-electra-base (sizes do not match)")
def tf_wrong_size_name(c: Ctx) -> Run:
    store = c.request.getfixturevalue("private_store") / "models"
    return Run(["convert", "--tf-checkpoint", TF_TINY, "--name", "chinese-electra-base"],
               ("chinese-electra-base expects [21128,768]", "--output DIR instead of --name"),
               outputs=(store / "chinese-electra-base", store / "chinese-electra-base-generator"))


@case("convert", "TF checkpoint without vocab.txt beside it")
def tf_missing_vocab(c: Ctx) -> Run:
    ckpt = c.tf_copy(skip=("vocab.txt",))
    return Run(["convert", "--tf-checkpoint", ckpt, "-o", c.tmp / "out"], ("no vocab.txt", "--vocab"),
               outputs=(c.tmp / "out",))


@case("convert", "--vocab with 2 lines for a 171-token embedding table")
def tf_vocab_size_mismatch(c: Ctx) -> Run:
    vocab = c.tmp / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    return Run(["convert", "--tf-checkpoint", TF_TINY, "-o", c.tmp / "out", "--vocab", vocab],
               ("vocab.txt has 2 tokens", "171 rows", "--vocab"), outputs=(c.tmp / "out",))


@case("convert", "--config pointing at a file that is not JSON")
def tf_config_bad_json(c: Ctx) -> Run:
    bad = c.tmp / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    return Run(["convert", "--tf-checkpoint", TF_TINY, "-o", c.tmp / "out", "--config", bad],
               ("bad.json", "not valid JSON", "restore the file"), outputs=(c.tmp / "out",))


@case("convert", "--config JSON without the model sizes (missing config fields)")
def tf_config_missing_fields(c: Ctx) -> Run:
    cfg = c.tmp / "sizes.json"
    cfg.write_text('{"hidden_size": 32}', encoding="utf-8")
    return Run(["convert", "--tf-checkpoint", TF_TINY, "-o", c.tmp / "out", "--config", cfg],
               ("sizes.json", "config lacks", "vocab_size", "add them"), outputs=(c.tmp / "out",))


@case("convert", "a checkpoint path that does not exist")
def tf_missing_checkpoint(c: Ctx) -> Run:
    return Run(["convert", "--tf-checkpoint", c.tmp / "nowhere", "-o", c.tmp / "out"],
               ("nowhere.index", "not found"), outputs=(c.tmp / "out",))


@case("convert", "output path under a regular file (not writable)")
def tf_unwritable_output(c: Ctx) -> Run:
    (c.tmp / "blocker").write_text("x")
    return Run(["convert", "--tf-checkpoint", TF_TINY, "-o", c.tmp / "blocker" / "out"],
               ("cannot create", "blocker/out", "choose another output path"), outputs=(c.tmp / "blocker" / "out",))


@case("convert", "output directory already holding other files")
def tf_output_not_empty(c: Ctx) -> Run:
    out = c.tmp / "out" / "discriminator"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("mine")

    def ok_untouched() -> None:
        assert (out / "notes.txt").read_text() == "mine" and not (c.tmp / "out" / "generator").exists()

    run = Run(["convert", "--tf-checkpoint", TF_TINY, "-o", c.tmp / "out"],
              ("holds files paddle-electra did not write", "not even with --force"))
    run.after = ok_untouched  # type: ignore[attr-defined]
    return run


@case("convert", "Hugging Face directory with no weights file")
def hf_no_weights(c: Ctx) -> Run:
    d = c.hf_copy(weights=None)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("no model.safetensors or pytorch_model.bin",),
               outputs=(c.tmp / "out",))


@case("convert", "model.safetensors truncated to 5000 bytes")
def hf_truncated_safetensors(c: Ctx) -> Run:
    d = c.hf_copy(weights="model.safetensors")
    truncate(d / "model.safetensors", 5000)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("model.safetensors", "truncated or corrupt",
                                                               "download it again"), outputs=(c.tmp / "out",))


@case("convert", "model.safetensors with a bit flipped in its JSON header")
def hf_bitflip_safetensors(c: Ctx) -> Run:
    d = c.hf_copy(weights="model.safetensors")
    flip_byte(d / "model.safetensors", 20, 0x40)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("model.safetensors", "download it again"),
               outputs=(c.tmp / "out",))


@case("convert", "pytorch_model.bin truncated to 5000 bytes")
def hf_truncated_bin(c: Ctx) -> Run:
    d = c.hf_copy()
    truncate(d / "pytorch_model.bin", 5000)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("pytorch_model.bin", "truncated or corrupt",
                                                               "download the file again"), outputs=(c.tmp / "out",))


@case("convert", "pytorch_model.bin with one bit flipped in a tensor (zip CRC)")
def hf_bitflip_bin(c: Ctx) -> Run:
    d = c.hf_copy()
    flip_byte(d / "pytorch_model.bin", (d / "pytorch_model.bin").stat().st_size // 2, 0x40)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("pytorch_model.bin", "CRC", "download it again"),
               outputs=(c.tmp / "out",))


@case("convert", "pytorch_model.bin of 0 bytes (interrupted download)")
def hf_empty_bin(c: Ctx) -> Run:
    d = c.hf_copy()
    (d / "pytorch_model.bin").write_bytes(b"")
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("pytorch_model.bin is empty", "download it again"),
               outputs=(c.tmp / "out",))


@case("convert", "a BERT model.safetensors (bert.* tensors)")
def hf_bert(c: Ctx) -> Run:
    from paddle_electra.checkpoint.safetensors_io import load_safetensors, save_safetensors

    d = c.hf_copy(weights=None)
    tensors = load_safetensors(HF_TINY / "model.safetensors")
    save_safetensors({k.replace("electra.", "bert."): v for k, v in tensors.items()}, d / "model.safetensors")
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"],
               ("model.safetensors", "a BERT checkpoint", "convert an HFL ELECTRA model"), outputs=(c.tmp / "out",))


@case("convert", "Hugging Face directory without vocab.txt")
def hf_missing_vocab(c: Ctx) -> Run:
    d = c.hf_copy(vocab=False)
    return Run(["convert", "--hf", d, "-o", c.tmp / "out"], ("no vocab.txt", "--vocab"), outputs=(c.tmp / "out",))


# ------------------------------------------------------------------------------------------------ readers
def _ft(c: Ctx, files: dict[str, bytes | str], task: str = "chnsenticorp", *extra) -> tuple[list, Path]:
    data = c.tmp / "data" / "finetuning_data" / task
    data.mkdir(parents=True)
    for name, content in files.items():
        (data / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    out = c.tmp / "run"
    return ["finetune", task, "--data-dir", c.tmp / "data", "--model", c.disc, "-o", out, "--epochs", "1",
            "--batch-size", "2", *extra], out


GOOD = "label\ttext_a\n1\t今天天气很好\n0\t他不想去\n"


@case("readers", "train.tsv with a non-UTF-8 line (bytes ff fe)")
def tsv_not_utf8(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD.encode() + b"1\t\xff\xfe\n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv:4", "not valid UTF-8", "re-save the file as UTF-8"), outputs=(out,))


@case("readers", "train.tsv and dev.tsv with CRLF line endings (must just work)")
def tsv_crlf_works(c: Ctx) -> Run:
    crlf = GOOD.replace("\n", "\r\n")
    argv, out = _ft(c, {"train.tsv": crlf, "dev.tsv": crlf})

    def ok(result) -> None:
        assert (out / "best_model" / "labels.json").is_file()
        assert "dev: chnsenticorp: accuracy:" in result.out

    return Run(argv, ok=ok)


@case("readers", "a tsv row with 3 columns where chnsenticorp has 2")
def tsv_wrong_columns(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD + "1\ta\tb\n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv:4", "expected 2 tab-separated columns (label, text)", "got 3"), outputs=(out,))


@case("readers", "an lcqmc row with 2 columns where it has 3")
def tsv_pair_missing_column(c: Ctx) -> Run:
    rows = "text_a\ttext_b\tlabel\n今天\t天气\t1\n只有一句\t0\n"
    argv, out = _ft(c, {"train.tsv": rows, "dev.tsv": rows}, "lcqmc")
    return Run(argv, ("train.tsv:3", "expected 3 tab-separated columns", "got 2"), outputs=(out,))


@case("readers", "a tsv row with an empty text")
def tsv_empty_text(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD + "1\t\n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv:4", "empty text_a (column 2)", "fill it in or delete the line"), outputs=(out,))


@case("readers", "a tsv row whose text is only spaces and an ideographic space")
def tsv_whitespace_text(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD + "1\t  \u3000 \n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv:4", "empty text_a", "fill it in or delete the line"), outputs=(out,))


@case("readers", "a tsv row with label 2 for the 2-class chnsenticorp")
def tsv_unknown_label(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD + "2\t好\n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv:4", "label '2' not in ['0', '1']"), outputs=(out,))


@case("readers", "a tsv file with only its header line")
def tsv_header_only(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": "label\ttext_a\n", "dev.tsv": GOOD})
    return Run(argv, ("train.tsv", "no examples", "header 1"), outputs=(out,))


@case("readers", "no dev.tsv for a run that evaluates")
def tsv_missing_split(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD})
    return Run(argv, ("chnsenticorp dev data not found", "looked for", "dev.tsv"), outputs=(out,))


def _squad(*qas, context: str = "北京是中国的首都。") -> str:
    return json.dumps({"data": [{"paragraphs": [{"context": context, "qas": list(qas)}]}]}, ensure_ascii=False)


def _q(qid: str, answer: str = "北京", start: int = 0) -> dict:
    return {"id": qid, "question": "首都是哪里？", "answers": [{"text": answer, "answer_start": start}]}


@case("readers", "cmrc2018 train.json with a question id used twice")
def qa_duplicate_ids(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.json": _squad(_q("q1"), _q("q1")), "dev.json": _squad(_q("d1"))}, "cmrc2018")
    return Run(argv, ("train.json", "duplicate id", "'q1'", "first used at"), outputs=(out,))


@case("readers", "cmrc2018 train.json whose answer text is not in the context")
def qa_answer_not_in_context(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.json": _squad(_q("q1", "上海", 0)), "dev.json": _squad(_q("d1"))}, "cmrc2018")
    return Run(argv, ("train.json", "'上海' not found in the context", "fix the data"), outputs=(out,))


@case("readers", "cmrc2018 train.json that is not valid JSON")
def qa_invalid_json(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.json": '{"data": [', "dev.json": _squad(_q("d1"))}, "cmrc2018")
    return Run(argv, ("train.json:1", "invalid JSON"), outputs=(out,))


@case("readers", "cmrc2018 train.json with a question without its 'question' field")
def qa_missing_field(c: Ctx) -> Run:
    bad = {"id": "q1", "answers": [{"text": "北京", "answer_start": 0}]}
    argv, out = _ft(c, {"train.json": _squad(bad), "dev.json": _squad(_q("d1"))}, "cmrc2018")
    return Run(argv, ("train.json", "qas[0]", "missing 'question'"), outputs=(out,))


@case("readers", "cail2018 JSON-lines file with a broken line")
def cail_invalid_line(c: Ctx) -> Run:
    line = json.dumps({"fact": "某人盗窃财物", "meta": {"accusation": ["盗窃"]}}, ensure_ascii=False)
    argv, out = _ft(c, {"train.json": line + "\n{not json\n", "dev.json": line + "\n"}, "cail2018")
    return Run(argv, ("train.json:2", "invalid JSON", "one JSON object per line"), outputs=(out,))


@case("readers", "load_split API on a tsv with a non-UTF-8 byte")
def api_reader_not_utf8(c: Ctx) -> Run:
    from paddle_electra.tasks import load_split

    root = write_classification(c.tmp / "data")
    path = root / "finetuning_data" / "chnsenticorp" / "train.tsv"
    path.write_bytes(path.read_bytes() + b"0\t\xc3\x28\n")
    return Run(lambda: load_split("chnsenticorp", root, "train"), ("train.tsv:10", "re-save the file as UTF-8"),
               error=DataError)


# ------------------------------------------------------------------------------------------------ finetune
@case("finetune", "`finetune` with an unknown task name (argparse choices)")
def finetune_unknown_task(c: Ctx) -> Run:
    return Run(["finetune", "sentiment", "--data-dir", c.tmp, "--model", c.disc],
               ("invalid choice: 'sentiment'", "chnsenticorp", "paddle-electra finetune --help"))


@case("finetune", "run_finetuning.py with task_names naming an unknown task")
def seed_script_unknown_task(c: Ctx) -> Run:
    write_classification(c.tmp / "data")
    return Run(("proc", [PY, ROOT / "run_finetuning.py", "--data-dir", c.tmp / "data", "--model-name", c.disc,
                         "--hparams", '{"task_names": ["sentiment"]}']),
               ("unknown task 'sentiment'", "known tasks: chnsenticorp"))


@case("finetune", "run_finetuning.py with hparams that do not name a task")
def seed_script_no_task(c: Ctx) -> Run:
    return Run(("proc", [PY, ROOT / "run_finetuning.py", "--data-dir", c.tmp, "--model-name", c.disc,
                         "--hparams", '{"learning_rate": 1e-4}']), ("hparams must name the task", "task_names"))


@case("finetune", "examples/run_lcqmc.py with a data directory that has no lcqmc data")
def example_missing_data(c: Ctx) -> Run:
    return Run(("proc", [PY, ROOT / "examples" / "run_lcqmc.py", "--data-dir", c.tmp / "empty", "--model", c.disc,
                         "--output", c.tmp / "run"]), ("lcqmc train data not found", "looked for"),
               outputs=(c.tmp / "run",))


@case("finetune", "--hparams that is not valid JSON")
def hparams_bad_json(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD}, "chnsenticorp", "--hparams", "{bad json")
    return Run(argv, ("--hparams {bad json", "invalid JSON at line 1 col 2"), outputs=(out,))


@case("finetune", "--hparams naming a file that does not exist")
def hparams_missing_file(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD}, "chnsenticorp", "--hparams", c.tmp / "nope.json")
    return Run(argv, ("nope.json", "cannot read", "pass a JSON file or string"), outputs=(out,))


@case("finetune", "--hparams that is a JSON list, not an object")
def hparams_not_object(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD}, "chnsenticorp", "--hparams", "[1, 2]")
    return Run(argv, ("--hparams [1, 2]", "expected a JSON object"), outputs=(out,))


@case("finetune", "--hparams with a misspelt key")
def hparams_unknown_key(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD}, "chnsenticorp", "--hparams",
                    '{"learning_rat": 1e-4}')
    return Run(argv, ("unknown hparam 'learning_rat'", "did you mean learning_rate"), outputs=(out,))


@case("finetune", "--hparams whose task_names disagree with the task argument")
def hparams_task_disagrees(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD}, "chnsenticorp", "--hparams",
                    '{"task_names": ["xnli"]}')
    return Run(argv, ("task_names ['xnli'] disagree with the task 'chnsenticorp'", "run one task at a time"),
               outputs=(out,))


@case("finetune", "--output under a regular file (not writable)")
def finetune_unwritable_output(c: Ctx) -> Run:
    argv, _ = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD})
    (c.tmp / "blocker").write_text("x")
    argv[argv.index("-o") + 1] = c.tmp / "blocker" / "run"
    return Run(argv, ("cannot create the run directory", "blocker/run", "choose another --output"),
               outputs=(c.tmp / "blocker" / "run",))


@case("finetune", "--model naming a store model that is not installed")
def finetune_model_not_in_store(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD, "dev.tsv": GOOD})
    argv[argv.index("--model") + 1] = SMALL
    return Run(argv, ("chinese-electra-small is not in the local store", "paddle-electra convert"), outputs=(out,))


@case("finetune", "`evaluate` xnli (3 labels) with a 2-label fine-tuned model (num_classes vs checkpoint)")
def evaluate_label_count_mismatch(c: Ctx) -> Run:
    return Run(["evaluate", "xnli", "--data-dir", FIXTURES / "tasks", "--model", c.finetuned, "-o", c.tmp / "run"],
               ("model_state.pdparams does not fit this model", "[32, 2]", "[32, 3]",
                "use the labels/num_classes it was trained with"), outputs=(c.tmp / "run",))


@case("finetune", "a training text of 600 characters (> 512 tokens, > the tiny model's 64 positions)")
def finetune_long_text_works(c: Ctx) -> Run:
    argv, out = _ft(c, {"train.tsv": GOOD + f"1\t{LONG}\n", "dev.tsv": GOOD}, "chnsenticorp",
                    "--max-seq-length", "512")

    def ok(result) -> None:  # without clamping to 64 positions the embedding lookup fails (CPU) or reads garbage
        assert (out / "best_model" / "model_state.pdparams").is_file()
        assert "dev: chnsenticorp: accuracy:" in result.out

    return Run(argv, ok=ok)


# ------------------------------------------------------------------------------------------------ predict
@case("predict", "an empty text")
def predict_empty(c: Ctx) -> Run:
    return Run(["predict", c.finetuned, ""], ("input text 1", "empty or whitespace only", "pass non-empty text"))


@case("predict", "a text of spaces only, after a good one")
def predict_whitespace(c: Ctx) -> Run:
    return Run(["predict", c.finetuned, "好", "   "], ("input text 2", "pass non-empty text"))


@case("predict", "a pair 'A|||' whose second text is empty")
def predict_empty_pair(c: Ctx) -> Run:
    return Run(["predict", c.finetuned, "今天|||"], ("input text 1", "pass non-empty text"))


@case("predict", "a 600-character text with --max-seq-length 600 (> positions): truncated, must work")
def predict_long_text_works(c: Ctx) -> Run:
    def ok(result) -> None:
        assert result.out.split("\t")[0] in ("0", "1") and len(result.out.splitlines()) == 1

    return Run(["predict", c.finetuned, LONG, "--max-seq-length", "600"], ok=ok)


@case("predict", "a converted (not fine-tuned) model directory")
def predict_not_finetuned(c: Ctx) -> Run:
    return Run(["predict", c.disc, "好"], ("no labels.json", "best_model/ directory of a fine-tuning run"))


@case("predict", "a model directory that does not exist")
def predict_missing_dir(c: Ctx) -> Run:
    return Run(["predict", c.tmp / "nowhere", "好"], ("nowhere: no such directory", "best_model/"))


@case("predict", "labels.json that is not JSON")
def predict_bad_labels(c: Ctx) -> Run:
    d = c.clone(c.finetuned)
    (d / "labels.json").write_text("{oops")
    return Run(["predict", d, "好"], ("labels.json", "not a label file", "restore it"))


@case("predict", "labels.json with 3 labels for a 2-output classifier")
def predict_label_count_mismatch(c: Ctx) -> Run:
    d = c.clone(c.finetuned)
    (d / "labels.json").write_text('{"task": "xnli", "labels": ["a", "b", "c"], "head": "seed"}')
    return Run(["predict", d, "好"], ("lists 3 labels", "has 2 outputs", "use the labels.json written with"))


@case("predict", "model_state.pdparams truncated to 500 bytes")
def predict_truncated_weights(c: Ctx) -> Run:
    d = c.clone(c.finetuned)
    truncate(d / "model_state.pdparams", 500)
    return Run(["predict", d, "好"], ("model_state.pdparams", "truncated or corrupt", "re-run"))


@case("predict", "model directory without config.json")
def predict_missing_config(c: Ctx) -> Run:
    d = c.clone(c.finetuned)
    (d / "config.json").unlink()
    return Run(["predict", d, "好"], ("config.json", "config file not found", "re-run the conversion"))


@case("predict", "model directory without vocab.txt")
def predict_missing_vocab(c: Ctx) -> Run:
    d = c.clone(c.finetuned)
    (d / "vocab.txt").unlink()
    return Run(["predict", d, "好"], ("no vocab.txt", "copy the checkpoint's vocab.txt"))


# ------------------------------------------------------------------------------------------------ export
@case("export", "--output under a regular file (not writable)")
def export_unwritable(c: Ctx) -> Run:
    (c.tmp / "blocker").write_text("x")
    return Run(["export", c.finetuned, "-o", c.tmp / "blocker" / "exp"],
               ("cannot create the export directory", "choose another --output"), outputs=(c.tmp / "blocker" / "exp",))


@case("export", "a model that is neither a directory nor a catalog name")
def export_unknown_model(c: Ctx) -> Run:
    return Run(["export", c.tmp / "nowhere", "-o", c.tmp / "exp"],
               ("neither a model directory nor a known model name", "paddle-electra list"), outputs=(c.tmp / "exp",))


@case("export", "model_state.pdparams truncated to 500 bytes")
def export_truncated_weights(c: Ctx) -> Run:
    d = c.clone(c.disc)
    truncate(d / "model_state.pdparams", 500)
    return Run(["export", d, "-o", c.tmp / "exp"], ("model_state.pdparams", "truncated or corrupt"),
               outputs=(c.tmp / "exp",))


@case("export", "config.json that is not JSON")
def export_bad_config(c: Ctx) -> Run:
    d = c.clone(c.disc)
    (d / "config.json").write_text("{")
    return Run(["export", d, "-o", c.tmp / "exp"], ("config.json", "not valid JSON", "re-run the conversion"),
               outputs=(c.tmp / "exp",))


@case("export", "--head that is not a head")
def export_unknown_head(c: Ctx) -> Run:
    return Run(["export", c.disc, "-o", c.tmp / "exp", "--head", "bert"], ("unknown head 'bert'", "choose one of"),
               outputs=(c.tmp / "exp",))


# ------------------------------------------------------------------------------------------------ qa-eval
def _qa_files(c: Ctx, dataset: str | bytes, predictions: str | bytes = '{"q1": "北京"}') -> list:
    ds, pred = c.tmp / "dev.json", c.tmp / "predictions.json"
    for path, content in ((ds, dataset), (pred, predictions)):
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return ["qa-eval", ds, pred]


@case("qa-eval", "a prediction file that is not valid JSON")
def qa_eval_bad_predictions(c: Ctx) -> Run:
    return Run(_qa_files(c, _squad(_q("q1")), '{"q1": "北京"'), ("predictions.json:1", "invalid JSON",
                                                                 "column 12"), rc=1)


@case("qa-eval", "predictions as a JSON list instead of {id: answer}")
def qa_eval_predictions_list(c: Ctx) -> Run:
    return Run(_qa_files(c, _squad(_q("q1")), '["北京"]'), ("predictions.json", "expected a JSON object",
                                                          "{question id: answer text}"), rc=1)


@case("qa-eval", "a dataset that is not SQuAD-shaped")
def qa_eval_not_squad(c: Ctx) -> Run:
    return Run(_qa_files(c, '{"data": [{"title": "x"}]}'), ("dev.json", "expected data[].paragraphs[].qas[]"), rc=1)


@case("qa-eval", "a dataset file that is not UTF-8")
def qa_eval_not_utf8(c: Ctx) -> Run:
    return Run(_qa_files(c, b'{"data": "\xff"}'), ("dev.json:1", "not valid UTF-8", "re-save it as UTF-8"), rc=1)


@case("qa-eval", "a dataset file that does not exist")
def qa_eval_missing_dataset(c: Ctx) -> Run:
    argv = _qa_files(c, "{}")
    argv[1] = c.tmp / "nowhere.json"
    return Run(argv, ("nowhere.json", "cannot read dataset file", "No such file"), rc=1)


@case("qa-eval", "a dataset question without reference answers")
def qa_eval_no_answers(c: Ctx) -> Run:
    return Run(_qa_files(c, _squad({"id": "q1", "question": "?", "answers": []})),
               ("dev.json", "id 'q1'", "no reference answers"), rc=1)


# ------------------------------------------------------------------------------------------------ hub
def _hub_module(c: Ctx, **kwargs):
    hub = c.hub()
    return lambda: hub.Module(name=SMALL, **kwargs)


def _hub_predict(c: Ctx, data, **kwargs):
    module = c.hub().Module(name=SMALL, **kwargs)
    return lambda: module.predict(data, max_seq_len=32)


@case("hub", "hub.Module(task='sentiment') (unknown task)")
def hub_unknown_task(c: Ctx) -> Run:
    return Run(_hub_module(c, task="sentiment"), ("unknown task 'sentiment'", "choose one of"), error=ConfigError)


@case("hub", "load_checkpoint trained with 3 classes into num_classes=2")
def hub_num_classes_mismatch(c: Ctx) -> Run:
    import paddle

    hub = c.hub()
    paddle.save(hub.Module(name=SMALL, task="seq-cls", num_classes=3).state_dict(), str(c.tmp / "model.pdparams"))
    return Run(_hub_module(c, task="seq-cls", load_checkpoint=str(c.tmp / "model.pdparams")),
               ("trained with 3 classes", "num_classes=2", "pass num_classes=3"), error=ConfigError)


@case("hub", "load_checkpoint truncated to 300 bytes")
def hub_truncated_checkpoint(c: Ctx) -> Run:
    import paddle

    hub = c.hub()
    paddle.save(hub.Module(name=SMALL, task="seq-cls").state_dict(), str(c.tmp / "model.pdparams"))
    truncate(c.tmp / "model.pdparams", 300)
    return Run(_hub_module(c, task="seq-cls", load_checkpoint=str(c.tmp / "model.pdparams")),
               ("model.pdparams", "truncated", "hub.Trainer wrote"), error=StoreError)


@case("hub", "model_dir that does not exist")
def hub_missing_model_dir(c: Ctx) -> Run:
    return Run(_hub_module(c, model_dir=str(c.tmp / "nowhere")), ("model_dir", "nowhere does not exist",
                                                                   "paddle-electra convert"), error=StoreError)


@case("hub", "model_dir without config.json")
def hub_model_dir_no_config(c: Ctx) -> Run:
    d = c.clone(c.disc)
    (d / "config.json").unlink()
    return Run(_hub_module(c, model_dir=str(d)), ("not a model directory", "config.json",
                                                  "paddle-electra convert"), error=StoreError)


@case("hub", "model_dir whose model_state.pdparams is 3 bytes")
def hub_model_dir_bad_weights(c: Ctx) -> Run:
    d = c.clone(c.disc)
    (d / "model_state.pdparams").write_bytes(b"abc")
    return Run(_hub_module(c, task="seq-cls", model_dir=str(d)), ("model_state.pdparams", "truncated or corrupt"),
               error=CheckpointError)


@case("hub", "module whose weights are not in the store")
def hub_no_weights(c: Ctx) -> Run:
    hub = c.request.getfixturevalue("hub")
    return Run(lambda: hub.Module(name=SMALL), ("has no weights", "paddle-electra convert --tf-checkpoint DIR",
                                                "model_dir="), error=StoreError)


def _one_label_each(n: int):
    def ok(results) -> None:  # predicted as the official module does, never failing the batch (issue 14)
        assert len(results) == n and all(r in (0, 1) for r in results), results

    return ok


@case("hub", "predict([['']]) (empty text)")
def hub_empty_text(c: Ctx) -> Run:
    return Run(_hub_predict(c, [[""]], task="seq-cls"), ok=_one_label_each(1))


@case("hub", "predict([['  ']]) (whitespace-only text)")
def hub_whitespace_text(c: Ctx) -> Run:
    return Run(_hub_predict(c, [["好"], ["  \t"]], task="seq-cls"), ok=_one_label_each(2))


@case("hub", "predict('text') (a string, not a list of lists)")
def hub_data_not_list(c: Ctx) -> Run:
    return Run(_hub_predict(c, "今天天气很好", task="seq-cls"), ("must be a list like [['text']",), error=ConfigError)


@case("hub", "qa predict with an empty context")
def hub_qa_empty_context(c: Ctx) -> Run:
    def ok(results) -> None:  # no answer for that item, and the batch is not failed (issue 14)
        assert results[0] == {"text": "", "start": -1, "end": -1, "score": 0.0} and results[1]["text"] in "我在北京上学"

    return Run(_hub_predict(c, [["问题", ""], ["谁在上学？", "我在北京上学"]], task="qa"), ok=ok)


@case("hub", "predict on a 600-character text (> 512 tokens): truncated, must work")
def hub_long_text_works(c: Ctx) -> Run:
    module = c.hub().Module(name=SMALL, task="seq-cls")

    def ok(result) -> None:
        assert result in ([0], [1])

    return Run(lambda: module.predict([[LONG]], max_seq_len=512), ok=ok)


# ------------------------------------------------------------------------------------------------ runner
@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """paddlehub pointed at a private HUB_HOME with the chinese-electra-small module installed."""
    from hub_helpers import point_hub_home

    from paddle_electra.hub import install_module

    home = tmp_path_factory.mktemp("robust_hub")
    with pytest.MonkeyPatch.context() as mp:
        point_hub_home(mp, home)
        install_module(SMALL, hub_home=home)
        import paddlehub

        yield paddlehub


def _check_message(message: str, needles: tuple[str, ...]) -> None:
    assert "\n" not in message.strip(), f"message is not one line: {message!r}"
    assert "Traceback" not in message
    missing = [n for n in needles if n not in message]
    assert not missing, f"message lacks {missing}: {message!r}"


@pytest.mark.parametrize("key", list(CASES))
def test_bad_input(key, request, tmp_path):
    area, what, setup = CASES[key]
    run = setup(Ctx(request, tmp_path))
    name = key.split(":", 1)[1]
    if callable(run.call):  # Python API
        if run.ok is not None:
            run.ok(run.call())
            record.row(area, name, what, "works", "")
            return
        with pytest.raises(ElectraError) as caught:
            run.call()
        assert isinstance(caught.value, run.error), f"{type(caught.value).__name__} is not {run.error.__name__}"
        message = str(caught.value)
        _check_message(message, run.needles)
        outcome = type(caught.value).__name__
    else:
        result = run_proc(run.call[1]) if isinstance(run.call, tuple) else run_cli(list(run.call))
        if run.ok is not None:
            assert result.rc == 0, result.err[-3000:]
            run.ok(result)
            record.row(area, name, what, "works", "")
            return
        assert "Traceback" not in result.err, result.err[-3000:]
        assert result.rc == run.rc, (result.rc, result.err[-3000:])
        lines = result.error_lines
        assert len(lines) == 1, result.err[-3000:]
        message = lines[0]
        _check_message(message, run.needles)
        outcome = f"exit {result.rc}"
    for path in run.outputs:
        assert leftovers(path) == [], f"partial output left: {leftovers(path)}"
    if hasattr(run, "after"):
        run.after()
    record.row(area, name, what, outcome, message.removeprefix("error: "))


def test_enough_cases_per_entry_point():
    areas = {}
    for area, _, _ in CASES.values():
        areas[area] = areas.get(area, 0) + 1
    assert len(CASES) >= 40
    assert set(areas) >= {"convert", "hub", "readers", "finetune", "qa-eval", "predict", "export"}, areas
    assert rbkit  # helpers module in use
