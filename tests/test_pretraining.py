"""Continued ELECTRA pretraining on the tiny HFL-format checkpoint (disc H=32, gen H=8, tied E=16, V=171).

Covers the issue's tests: the masking statistics match the original's rules, the loss of a tiny model on a tiny
corpus falls, the exported discriminator loads in the fine-tuning and hub-module paths, and a resumed run
reproduces the uninterrupted run's next-step loss. Plus: the tied embeddings, the generator head against
PaddleNLP's ``ElectraGenerator``, streaming/packing, and the TF/HF exports.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.errors import ConfigError, StoreError
from paddle_electra.pretraining.data import ExampleBuilder, TextStream, split_sentences
from paddle_electra.pretraining.masking import SpecialIds, mask_batch, masking_stats, max_predictions_per_seq

FIXTURES = Path(__file__).parent / "fixtures"
SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)  # the tiny vocab's first five lines
FAST = dict(batch_size=4, max_seq_length=32, learning_rate=2e-3, log_every_steps=1, shuffle_buffer=16)


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory) -> dict[str, Path]:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    out = tmp_path_factory.mktemp("tiny_pair")
    convert_tf_checkpoint(FIXTURES / "tf_tiny", output=out)
    return {"root": out, "discriminator": out / "discriminator", "generator": out / "generator"}


def _vocab_chars() -> list[str]:
    lines = (FIXTURES / "tf_tiny" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [t for t in lines[5:] if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Two files: blank-line separated documents, and one document per line; repetitive so a model can learn."""
    root = tmp_path_factory.mktemp("corpus")
    chars = _vocab_chars()
    phrases = ["".join(chars[i:i + 6]) for i in range(0, 36, 6)]
    rng = random.Random(0)
    blank = []
    for _ in range(30):
        blank += [rng.choice(phrases) + rng.choice(phrases) + "。" for _ in range(rng.randint(1, 4))] + [""]
    (root / "blank.txt").write_text("\n".join(blank), encoding="utf-8")
    docs = ["".join(rng.choice(phrases) + ("！" if rng.random() < 0.3 else "") for _ in range(rng.randint(2, 12)))
            for _ in range(30)]
    (root / "lines.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    return root


def _curve(run: Path) -> dict[int, dict]:
    entries = [json.loads(line) for line in (run / "curve.jsonl").read_text().splitlines()]
    return {e["step"]: e for e in entries if "loss" in e}


# ------------------------------------------------------------------------------------------------ masking
def _full_batch(rows: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 171, size=(rows, length))
    ids[:, 0], ids[:, -1], ids[:, length // 2] = SPECIAL.cls, SPECIAL.sep, SPECIAL.sep
    return ids, np.ones_like(ids)


def test_masking_statistics_match_the_original_rules():
    ids, mask = _full_batch(2048, 128)
    n = max_predictions_per_seq(0.15, 128)
    assert n == 19  # int((0.15 + 0.005) * 128)
    batch = mask_batch(ids, mask, SPECIAL, 0.15, n, np.random.default_rng(1))
    stats = masking_stats(batch, ids, mask, SPECIAL)
    assert abs(stats["slots_per_token"] - 0.15) <= 0.01  # 19 of 128 prediction slots per sequence
    assert abs(stats["mask_token_share"] - 0.85) <= 0.01  # 85 % [MASK], 15 % left unchanged, no random token
    candidates = 128 - 3
    expected_distinct = candidates * (1 - (1 - 1 / candidates) ** 19) / 128  # positions drawn with replacement
    assert abs(stats["distinct_masked_per_token"] - expected_distinct) <= 0.01
    assert stats["specials_masked"] == 0 and stats["padding_masked"] == 0
    # the generator sees [MASK] or the original token at a masked position, never anything else
    changed = batch["masked_input_ids"] != ids
    assert np.all(batch["masked_input_ids"][changed] == SPECIAL.mask)
    weights = batch["masked_lm_weights"] > 0
    assert np.array_equal(np.take_along_axis(ids, batch["masked_lm_positions"], 1)[weights],
                          batch["masked_lm_ids"][weights])
    # positions are uniform over the candidates
    counts = np.zeros(128)
    np.add.at(counts, batch["masked_lm_positions"][weights], 1)
    rate = counts[[p for p in range(128) if p not in (0, 64, 127)]] / counts.sum()
    assert rate.min() > 0.8 / candidates and rate.max() < 1.2 / candidates


def test_masking_counts_round_half_to_even_and_skip_empty_rows():
    ids = np.zeros((4, 64), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, real in enumerate((30, 50, 3, 2)):  # 30*0.15=4.5 -> 4 ; 50*0.15=7.5 -> 8 ; 0.45 -> max(1, 0)=1
        ids[row, :real] = 10
        ids[row, 0], ids[row, real - 1] = SPECIAL.cls, SPECIAL.sep
        mask[row, :real] = 1
    batch = mask_batch(ids, mask, SPECIAL, 0.15, max_predictions_per_seq(0.15, 64), np.random.default_rng(0))
    assert batch["masked_lm_weights"].sum(1).tolist() == [4, 8, 1, 0]  # row 3 is [CLS] [SEP]: nothing to mask
    unused = batch["masked_lm_weights"] == 0
    assert np.all(batch["masked_lm_positions"][unused] == 0) and np.all(batch["masked_lm_ids"][unused] == 0)


# ------------------------------------------------------------------------------------------------ data
def test_example_builder_packs_two_segments_within_max_length():
    builder = ExampleBuilder(32, SPECIAL.cls, SPECIAL.sep, random.Random(0))
    examples = []
    for i in range(200):
        example = builder.add_sentence([10 + i % 7] * random.Random(i).randint(3, 14))
        if example is not None:
            examples.append(example)
        if i % 9 == 8 and (done := builder.end_document()) is not None:
            examples.append(done)
    assert len(examples) > 20
    for ids, segments in examples:
        assert 3 <= len(ids) <= 32 and ids[0] == SPECIAL.cls and ids[-1] == SPECIAL.sep
        assert list(segments) == sorted(segments)  # A (0s) then B (1s)
        seps = np.flatnonzero(ids == SPECIAL.sep)
        assert len(seps) == (2 if segments[-1] == 1 else 1) and segments[seps[0]] == 0
    assert any(s[-1] == 1 for _, s in examples) and any(s[-1] == 0 for _, s in examples)


def test_sentence_split_keeps_punctuation_and_quotes():
    assert split_sentences("他说：“好。”然后走了！真的吗？是") == ["他说：“好。”", "然后走了！", "真的吗？", "是"]


def test_stream_resumes_exactly_from_its_state(corpus):
    chars = {c: i + 5 for i, c in enumerate(_vocab_chars())}

    def stream() -> TextStream:
        encode = lambda text: [chars.get(c, SPECIAL.unk) for c in text]  # noqa: E731
        return TextStream(sorted(corpus.iterdir()), encode, SPECIAL, 24, seed=3, shuffle_buffer=8)

    first = stream()
    [first.next_batch(4) for _ in range(7)]
    state = first.state_dict()
    expected = [first.next_batch(4) for _ in range(30)]  # several passes over the corpus
    second = stream()
    second.load_state_dict(state)
    for want in expected:
        got = second.next_batch(4)
        assert all(np.array_equal(got[k], want[k]) for k in want)
    assert first.pass_index >= 1  # wrapped around the corpus at least once
    assert all(b["input_ids"].dtype == np.int64 and b["input_mask"].dtype == np.int64 for b in expected)


def test_packing_fills_examples_across_short_documents(tmp_path):
    """One short document per line: the original's rule pads each to max_seq_length; packing fills examples with
    the same text, in order, across document boundaries."""
    chars = _vocab_chars()
    docs = ["".join(chars[(3 * d + k) % len(chars)] for k in range(5)) for d in range(200)]  # 5 tokens each
    (tmp_path / "short.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    ids_of = {c: i + 5 for i, c in enumerate(chars)}
    encode = lambda text: [ids_of[c] for c in text]  # noqa: E731

    def first_batches(pack: bool) -> list[dict]:
        stream = TextStream([tmp_path / "short.txt"], encode, SPECIAL, 32, seed=3, shuffle_buffer=1,
                            pack_documents=pack)
        return [stream.next_batch(4) for _ in range(5)]

    plain, packed = first_batches(False), first_batches(True)
    assert all(b["input_mask"].sum(-1).tolist() == [7] * 4 for b in plain)  # [CLS] 5 tokens [SEP]
    fill = np.mean([b["input_mask"].mean() for b in packed])
    assert fill > 0.9
    text = [t for b in packed for row in b["input_ids"] for t in row if t not in (SPECIAL.cls, SPECIAL.sep, 0)]
    corpus_ids = [i for d in docs for i in encode(d)]
    position = 0  # the packed text is the corpus in order, some tails cut off at max_seq_length as in the original
    for token in text:
        position = corpus_ids.index(token, position) + 1
    assert len(text) > 0.8 * 5 * 4 * 32


# ------------------------------------------------------------------------------------------------ model
def test_model_ties_embeddings_and_matches_the_converted_generator(tiny_pair):
    import paddle
    from paddlenlp.transformers import ElectraGenerator

    from paddle_electra.pretraining.data import add_masking
    from paddle_electra.pretraining.run import InitSpec, PretrainSettings, build_model

    init = InitSpec(*_sizes(tiny_pair), tiny_pair["discriminator"] / "vocab.txt", tiny_pair["discriminator"],
                    tiny_pair["generator"], "tiny")
    model = build_model(init, PretrainSettings(steps=1))
    assert model.generator.electra.embeddings is model.discriminator.electra.embeddings
    assert model.gen_sizes.hidden_size == 8 and model.disc_sizes.hidden_size == 32
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(names)) and not any(n.startswith("generator.electra.embeddings.") for n in names)

    ids, mask = _full_batch(3, 20)
    feed = add_masking({"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}, SPECIAL, 0.15,
                       4, np.random.default_rng(0))
    tensors = {k: paddle.to_tensor(v) for k, v in feed.items()}
    model.eval()
    reference = ElectraGenerator.from_pretrained(str(tiny_pair["generator"]))
    reference.eval()
    with paddle.no_grad():
        full = reference(tensors["masked_input_ids"], attention_mask=tensors["input_mask"])
        gathered = np.take_along_axis(full.numpy(), feed["masked_lm_positions"][..., None], 1)
        hidden = model.generator.electra(tensors["masked_input_ids"], attention_mask=tensors["input_mask"])
        ours = model.generator.generator_predictions(hidden) @ model.embeddings.word_embeddings.weight.T
        ours = ours + model.generator.generator_lm_head_bias
    ours = np.take_along_axis(ours.numpy(), feed["masked_lm_positions"][..., None], 1)
    assert np.abs(gathered - ours).max() < 1e-5

    # gradients of both losses reach the one shared table
    model.train()
    table = model.embeddings.word_embeddings.weight
    for gen_weight, disc_weight in ((1.0, 0.0), (0.0, 50.0)):
        model.objective = type(model.objective)(gen_weight=gen_weight, disc_weight=disc_weight)
        out = model(**tensors)
        out["loss"].backward()
        assert float(table.grad.abs().sum()) > 0
        model.clear_gradients()
        labels_share = float(out["replaced_share"])
        assert 0 < labels_share <= 4 * 3 / mask.sum()  # only masked positions can be replaced


def _sizes(pair):
    from paddle_electra.pretraining.model import read_model_dir

    return read_model_dir(pair["discriminator"])[0], read_model_dir(pair["generator"])[0]


# ------------------------------------------------------------------------------------------------ runs
def test_loss_falls_and_exports_load_everywhere(tmp_path, tiny_pair, corpus):
    import paddle

    from paddle_electra.convert.tf import convert_tf_checkpoint
    from paddle_electra.finetune import run_finetuning
    from paddle_electra.modeling.load import load_model
    from paddle_electra.store import read_meta

    run = tmp_path / "run"
    result = run_pretraining_quiet(str(tiny_pair["root"]), corpus, 40, run, export=("tf", "hf"))
    curve = _curve(run)
    losses = [curve[s]["loss"] for s in sorted(curve)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert curve[40]["gen_loss"] < curve[1]["gen_loss"] and curve[40]["disc_loss"] < curve[1]["disc_loss"]
    assert {"lr", "mlm_accuracy", "disc_accuracy", "replaced_share", "tokens_per_s"} <= set(curve[40])

    disc, gen = result["discriminator"], result["generator"]
    assert disc == run / "discriminator" and gen == run / "generator"
    meta = read_meta(disc)
    assert meta["role"] == "discriminator" and meta["source_format"] == "paddle-electra-pretraining"
    assert meta["pretraining"]["step"] == 40 and meta["pretraining"]["finished"]
    model, _ = load_model(disc)
    assert type(model).__name__ == "ElectraDiscriminator"
    trained = paddle.load(str(disc / "model_state.pdparams"), return_numpy=True)
    original = paddle.load(str(tiny_pair["discriminator"] / "model_state.pdparams"), return_numpy=True)
    assert sorted(trained) == sorted(original)
    assert not np.allclose(trained["electra.embeddings.word_embeddings.weight"],
                           original["electra.embeddings.word_embeddings.weight"])
    gen_state = paddle.load(str(gen / "model_state.pdparams"), return_numpy=True)
    assert np.array_equal(gen_state["electra.embeddings.word_embeddings.weight"],
                          trained["electra.embeddings.word_embeddings.weight"])  # tied, as the converter writes

    # the TF export has exactly the variables of HFL's checkpoint (weights, Adam slots, global_step) ...
    from paddle_electra.checkpoint.tf_bundle import open_tf_checkpoint

    manifest = json.loads((FIXTURES / "tf_tiny" / "manifest.json").read_text())
    exported = open_tf_checkpoint(result["tf"])
    assert {n: tuple(exported.shape(n)) for n in exported.keys()} == {
        v["name"]: tuple(v["shape"]) for v in manifest["variables"]}
    assert int(exported.read("global_step")) == 40
    # ... and converts back to the same two directories
    back = convert_tf_checkpoint(result["tf"].parent, output=tmp_path / "back")
    for role in ("discriminator", "generator"):
        ours = paddle.load(str(run / role / "model_state.pdparams"), return_numpy=True)
        again = paddle.load(str(back[role] / "model_state.pdparams"), return_numpy=True)
        assert sorted(ours) == sorted(again) and all(np.array_equal(ours[k], again[k]) for k in ours)
    assert (result["hf"]["discriminator"] / "model.safetensors").is_file()

    # fine-tuning path
    data = _write_cls_task(tmp_path / "data")
    scores = run_finetuning("chnsenticorp", data, disc, tmp_path / "ft", num_train_epochs=1, train_batch_size=8,
                            learning_rate=1e-3, layerwise_lr_decay=1.0)
    assert "accuracy" in scores["dev"]

    # hub-module path: the installed PaddleHub module, pointed at the exported directory
    paddlehub = pytest.importorskip("paddlehub")
    from hub_helpers import point_hub_home

    from paddle_electra.hub import install_module

    with pytest.MonkeyPatch.context() as mp:
        point_hub_home(mp, tmp_path / "hub_home")
        install_module("chinese-electra-small", hub_home=tmp_path / "hub_home")
        rtd = paddlehub.Module(name="chinese-electra-small", task="rtd", model_dir=str(disc))
        assert Path(rtd.model_dir) == disc
        tokens = rtd.predict([["今天天气很好"]])[0]
        assert tokens and all(0.0 <= t["replaced_prob"] <= 1.0 for t in tokens)
        embedding = paddlehub.Module(name="chinese-electra-small", model_dir=str(disc))
        pooled, sequence = embedding.predict([["今天天气很好"]], max_seq_len=32)[0]
        assert np.shape(pooled) == (32,) and np.shape(sequence)[1] == 32


def run_pretraining_quiet(model, text, steps, out, **options):
    from paddle_electra.pretraining import run_pretraining

    return run_pretraining(str(model), str(text), steps, str(out), **{**FAST, **options})


def _write_cls_task(root: Path) -> Path:
    task = root / "finetuning_data" / "chnsenticorp"
    task.mkdir(parents=True)
    rows = "\n".join(f"{i % 2}\t{'今天天气很好' if i % 2 else '他不想去那里'}" for i in range(16))
    for split in ("train", "dev", "eval"):
        (task / f"{split}.tsv").write_text("label\ttext_a\n" + rows + "\n", encoding="utf-8")
    return root


def test_resume_reproduces_the_next_step_loss(tmp_path, tiny_pair, corpus):
    steps = 9
    run_pretraining_quiet(tiny_pair["root"], corpus, steps, tmp_path / "straight", save_every_steps=3)
    interrupted = tmp_path / "interrupted"
    run_pretraining_quiet(tiny_pair["root"], corpus, steps, interrupted, save_every_steps=3, stop_after_steps=4)
    # simulate a kill after step 4: only the step-3 checkpoint survives
    checkpoints = sorted((interrupted / "checkpoints").iterdir())
    assert [c.name for c in checkpoints] == ["step-00000003", "step-00000004"]
    import shutil

    shutil.rmtree(checkpoints[-1])
    run_pretraining_quiet(tiny_pair["root"], corpus, steps, interrupted, save_every_steps=3)
    straight, resumed = _curve(tmp_path / "straight"), _curve(interrupted)
    for step in range(4, steps + 1):  # step 4 re-run from the step-3 checkpoint, then onwards
        assert resumed[step]["loss"] == pytest.approx(straight[step]["loss"], rel=1e-5, abs=1e-5), step
    logged = [json.loads(line)["step"] for line in (interrupted / "curve.jsonl").read_text().splitlines()
              if '"loss"' in line]
    assert logged.count(4) == 2 and logged.count(5) == 1


def test_from_scratch_and_generator_choices(tmp_path, tiny_pair, corpus):
    import paddle

    result = run_pretraining_quiet(tiny_pair["discriminator"], corpus, 2, tmp_path / "scratch", from_scratch=True,
                                   generator=str(tiny_pair["generator"]))
    fresh = paddle.load(str(result["discriminator"] / "model_state.pdparams"), return_numpy=True)
    converted = paddle.load(str(tiny_pair["discriminator"] / "model_state.pdparams"), return_numpy=True)
    assert np.abs(fresh["electra.encoder.layers.0.linear1.weight"]
                  - converted["electra.encoder.layers.0.linear1.weight"]).max() > 0.01
    assert json.loads((result["generator"] / "config.json").read_text())["hidden_size"] == 8

    with pytest.raises(ConfigError, match="has no generator beside it"):
        run_pretraining_quiet(tiny_pair["discriminator"], corpus, 2, tmp_path / "nogen")
    scratch_gen = run_pretraining_quiet(tiny_pair["discriminator"], corpus, 1, tmp_path / "newgen", generator="scratch")
    config = json.loads((scratch_gen["generator"] / "config.json").read_text())
    assert (config["hidden_size"], config["num_attention_heads"], config["intermediate_size"]) == (8, 1, 32)
    with pytest.raises(ConfigError, match="is not a discriminator directory"):
        run_pretraining_quiet(tiny_pair["generator"], corpus, 1, tmp_path / "wrong")


def test_output_dir_guards(tmp_path, tiny_pair, corpus):
    with pytest.raises(StoreError, match="not empty and holds no pretraining run"):
        run_pretraining_quiet(tiny_pair["root"], corpus, 1, tiny_pair["root"])
    run_pretraining_quiet(tiny_pair["root"], corpus, 1, tmp_path / "run")
    with pytest.raises(ConfigError, match="different batch_size"):
        run_pretraining_quiet(tiny_pair["root"], corpus, 2, tmp_path / "run", batch_size=2)
    with pytest.raises(StoreError, match="holds a pretraining run"):
        run_pretraining_quiet(tiny_pair["root"], corpus, 1, tmp_path / "run", resume=False)
    with pytest.raises(ConfigError, match="unknown pretraining option"):
        run_pretraining_quiet(tiny_pair["root"], corpus, 1, tmp_path / "other", learning_rte=1.0)


def test_a_run_of_mostly_padding_says_so_and_packing_fills_it(tmp_path, tiny_pair, caplog):
    chars = _vocab_chars()
    corpus = tmp_path / "short"
    corpus.mkdir()
    (corpus / "q.txt").write_text("\n".join(chars[i % 30] + chars[(i + 7) % 30] for i in range(300)) + "\n",
                                  encoding="utf-8")
    with caplog.at_level("WARNING", logger="paddle_electra.pretraining"):
        plain = run_pretraining_quiet(tiny_pair["root"], corpus, 2, tmp_path / "plain")
    assert plain["last"]["real_token_share"] == pytest.approx(4 / 32)  # [CLS] 2 tokens [SEP] of 32
    assert [r for r in caplog.records if "--pack-documents" in r.getMessage()]
    caplog.clear()
    with caplog.at_level("WARNING", logger="paddle_electra.pretraining"):
        packed = run_pretraining_quiet(tiny_pair["root"], corpus, 2, tmp_path / "packed", pack_documents=True)
    assert packed["last"]["real_token_share"] > 0.9
    assert not [r for r in caplog.records if "--pack-documents" in r.getMessage()]
    with pytest.raises(ConfigError, match="different pack_documents"):
        run_pretraining_quiet(tiny_pair["root"], corpus, 3, tmp_path / "packed")


def test_cli_pretrain_runs_resumes_and_exports(tmp_path, tiny_pair, corpus, capsys):
    import paddle

    from paddle_electra.cli import main

    out = tmp_path / "cli_run"
    argv = ["pretrain", "--model", str(tiny_pair["root"]), "--text", str(corpus), "--output", str(out),
            "--batch-size", "4", "--max-seq-length", "32", "--learning-rate", "2e-3", "--log-every-steps", "1",
            "--shuffle-buffer", "16", "--save-every-steps", "2", "--export", "hf", "--seed", "7"]
    assert main([*argv, "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"discriminator: {out / 'discriminator'}" in printed
    assert f"hf generator: {out / 'hf' / 'generator'}" in printed
    settings = json.loads((out / "settings.json").read_text())["settings"]
    assert (settings["batch_size"], settings["seed"], settings["export"]) == (4, 7, ["paddle", "hf"])
    assert sorted(_curve(out)) == [1, 2]
    # more steps on the same directory resume from the step-2 checkpoint instead of starting over
    assert main([*argv, "--steps", "3"]) == 0
    assert sorted(_curve(out)) == [1, 2, 3]
    state = paddle.load(str(out / "discriminator" / "model_state.pdparams"), return_numpy=True)
    assert "discriminator_predictions.dense_prediction.weight" in state
    # a usage problem is one line and exit code 2, and nothing is trained
    assert main(["pretrain", "--model", str(tiny_pair["root"]), "--text", str(tmp_path / "nothing"),
                 "--steps", "1", "--output", str(tmp_path / "bad")]) == 2
    assert "error:" in capsys.readouterr().err


def test_bf16_pretraining_follows_the_float32_curve(tmp_path, tiny_pair, corpus):
    from paddle_electra.ops import build

    if build.load() is None or build.bf16_unavailable_reason():
        pytest.skip(f"bf16 GEMMs unavailable: {build.bf16_unavailable_reason()}")
    run_pretraining_quiet(tiny_pair["root"], corpus, 6, tmp_path / "fp32")
    run_pretraining_quiet(tiny_pair["root"], corpus, 6, tmp_path / "bf16", bf16=True)
    fp32, bf16 = (_curve(tmp_path / arm) for arm in ("fp32", "bf16"))
    assert fp32.keys() == bf16.keys()
    assert [e["loss"] for e in fp32.values()] != [e["loss"] for e in bf16.values()]  # bf16 GEMMs did run
    for step, entry in fp32.items():
        assert abs(bf16[step]["loss"] - entry["loss"]) < 0.02 * entry["loss"], step
