"""Fine-tuning end to end on a tiny converted model: overfitting, resume after a kill, seed-style entry points."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.errors import ConfigError
from paddle_electra.finetune import build_settings, parse_hparams, run_finetuning

FIXTURES = Path(__file__).parent / "fixtures"
POS, NEG = "今天天气很好我很开心", "他不想去那个地方了"


@pytest.fixture(scope="module")
def tiny_disc(tmp_path_factory) -> Path:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(FIXTURES / "tf_tiny", output=tmp_path_factory.mktemp("tiny"))["discriminator"]


def _write_task(root: Path, n: int = 32) -> Path:
    rng = random.Random(0)
    task = root / "finetuning_data" / "chnsenticorp"
    task.mkdir(parents=True)
    rows = []
    for i in range(n):
        label = i % 2
        chars = list(POS if label else NEG)
        rng.shuffle(chars)
        rows.append(f"{label}\t{''.join(chars[:6])}")
    for split in ("train", "dev", "eval"):
        (task / f"{split}.tsv").write_text("label\ttext_a\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_tiny_model_overfits_32_examples(tmp_path, tiny_disc, capsys):
    data = _write_task(tmp_path / "data")
    results = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "run", learning_rate=3e-3,
                             num_train_epochs=25, train_batch_size=8, layerwise_lr_decay=1.0, warmup_proportion=0.1)
    assert results["dev"]["accuracy"] == 100.0
    assert "dev: chnsenticorp: accuracy: 100.00 - loss:" in capsys.readouterr().out
    curve = [json.loads(line) for line in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    losses = [c["loss"] for c in curve if "loss" in c]
    assert losses[-1] < losses[0]
    assert (tmp_path / "run" / "best_model" / "model_state.pdparams").is_file()


def test_resume_after_kill_continues_from_last_checkpoint(tmp_path, tiny_disc):
    import paddle

    from paddle_electra.finetune.classification import run_classification  # noqa: F401
    from paddle_electra.finetune.settings import loop_config  # noqa: F401
    from paddle_electra.modeling.heads import ElectraForSeedClassification
    from paddle_electra.tasks import load_split
    from paddle_electra.tokenizer import load_tokenizer
    from paddle_electra.training.features import encode_classification, pad_batch, train_batches
    from paddle_electra.training.loop import FineTuner, LoopConfig
    from paddle_electra.training.optim import RecipeConfig

    data = _write_task(tmp_path / "data")
    rows = encode_classification(load_split("chnsenticorp", data, "train").examples, load_tokenizer(tiny_disc),
                                 ("0", "1"), 32)

    def make(out: Path) -> FineTuner:
        paddle.seed(1)
        model = ElectraForSeedClassification.from_pretrained(str(tiny_disc), num_labels=2)
        batches = lambda epoch: [pad_batch([rows[i] for i in b]) for b in train_batches(rows, 8, epoch, 42)]  # noqa

        def loss_fn(m, batch):
            logits = m(paddle.to_tensor(batch["input_ids"]), attention_mask=paddle.to_tensor(batch["attention_mask"]))
            return paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(batch["labels"]).reshape([-1, 1]))

        config = LoopConfig(epochs=3, save_every_steps=2, log_every_steps=1, recipe=RecipeConfig(learning_rate=1e-3))
        return FineTuner(model, 2, out, config, batches, loss_fn)

    straight = make(tmp_path / "straight")
    straight.train()
    full = [json.loads(x) for x in (tmp_path / "straight" / "curve.jsonl").read_text().splitlines()]

    killed = make(tmp_path / "killed")
    killed.train(stop_after_steps=5)  # "killed" after step 5; last complete checkpoint: step 4
    # a checkpoint half-written when the kill came must be ignored
    partial = tmp_path / "killed" / "checkpoints" / "step-00000006"
    partial.mkdir()
    (partial / "model.pdparams").write_bytes(b"half")
    resumed = make(tmp_path / "killed")
    assert resumed.resume() and resumed.state.global_step == 4
    resumed.train()
    curve = [json.loads(x) for x in (tmp_path / "killed" / "curve.jsonl").read_text().splitlines()]
    after = {c["step"]: c["loss"] for c in curve[::-1] if "loss" in c}  # last write per step wins
    expected = {c["step"]: c["loss"] for c in full if "loss" in c}
    assert resumed.state.global_step == straight.state.global_step == 12
    for step in (5, 6, 12):
        assert after[step] == pytest.approx(expected[step], rel=1e-6)


def test_seed_hparams_are_accepted_and_typos_refused(tmp_path, tiny_disc):
    params = parse_hparams('{"task_names": ["cmrc2018"], "max_seq_length": 512, "num_train_epochs": 2, '
                           '"learning_rate": 3e-4, "train_batch_size": 32, "vocab_size": 21128, '
                           '"model_size": "small", "use_tpu": false}')
    assert params["max_seq_length"] == 512 and "use_tpu" not in params
    with pytest.raises(ConfigError, match="unknown hparam 'learning_rat'.*did you mean learning_rate"):
        parse_hparams({"learning_rat": 1e-4})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        parse_hparams(str(bad))
    settings = build_settings("lcqmc", tiny_disc)
    assert (settings.learning_rate, settings.max_seq_length, settings.num_train_epochs) == (3e-4, 128, 3)
    assert build_settings("cmrc2018", tiny_disc).max_seq_length == 512
    with pytest.raises(ConfigError, match="disagree with the task 'lcqmc'"):
        build_settings("lcqmc", tiny_disc, {"task_names": ["xnli"]})


def test_qa_end_to_end_on_tiny_cmrc(tmp_path, tiny_disc, capsys):
    results = run_finetuning("cmrc2018", FIXTURES / "tasks", tiny_disc, tmp_path / "qa", num_train_epochs=1,
                             train_batch_size=2, max_seq_length=64, doc_stride=32, beam_size=5)
    out = capsys.readouterr().out
    assert "dev: cmrc2018: em:" in out and 0.0 <= results["dev"]["f1"] <= 100.0
    preds = json.loads((tmp_path / "qa" / "results" / "cmrc2018_qa" / "dev" / "predictions.json").read_text())
    dev = json.loads((FIXTURES / "tasks" / "finetuning_data" / "cmrc2018" / "dev.json").read_text())
    contexts = {q["id"]: p["context"] for d in dev["data"] for p in d["paragraphs"] for q in p["qas"]}
    assert set(preds) == set(contexts)
    assert all(answer in contexts[qid] for qid, answer in preds.items())


# -------------------------------------------- issue 13: the seed's loss, schedule and deterministic runs
def _step0_expectation(model_dir: Path, data_root: Path, head: dict, batch: int) -> float:
    """The seed's step-0 loss from its formulas, computed here with numpy from the converted weights:
    ``FinetuningModel.loss = reduce_sum(per-example -log softmax(W h_[CLS] + b)[label])`` over the first batch
    (file order), with dropout off. Nothing of the project's loss code is used."""
    import paddle

    from paddle_electra.modeling.load import load_model
    from paddle_electra.tasks import load_split
    from paddle_electra.tokenizer import load_tokenizer
    from paddle_electra.training.features import encode_classification, pad_batch

    electra, _ = load_model(model_dir, head="model")
    tokenizer = load_tokenizer(model_dir)
    examples = load_split("chnsenticorp", data_root, "train").examples[:batch]
    rows = pad_batch(encode_classification(examples, tokenizer, ("0", "1"), 32))
    with paddle.no_grad():
        hidden = electra(paddle.to_tensor(rows["input_ids"]), paddle.to_tensor(rows["token_type_ids"]),
                         attention_mask=paddle.to_tensor(rows["attention_mask"])).numpy()[:, 0].astype("float64")
    logits = hidden @ head["classifier.weight"].astype("float64") + head["classifier.bias"]
    log_probs = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    return float(-log_probs[np.arange(batch), rows["labels"]].sum())


def test_step0_loss_is_the_seeds_batch_sum_and_runs_are_deterministic(tmp_path, tiny_disc):
    import json

    from paddle_electra.finetune import run_finetuning

    data = _write_task(tmp_path, n=16)
    rng = np.random.default_rng(7)
    head = {"classifier.weight": rng.normal(0, 0.5, (32, 2)).astype("float32"),
            "classifier.bias": rng.normal(0, 0.1, (2,)).astype("float32")}
    np.savez(tmp_path / "head.npz", **head)
    args = dict(num_train_epochs=2, train_batch_size=4, max_seq_length=32, do_test=False, learning_rate=1e-3,
                shuffle=False, dropout=0.0, head_init=str(tmp_path / "head.npz"), log_every_steps=1)
    run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "a", **args)
    run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "b", **args)
    curves = [[json.loads(line) for line in (tmp_path / r / "curve.jsonl").read_text().splitlines()
               if '"loss"' in line] for r in ("a", "b")]
    assert [c["loss"] for c in curves[0]] == [c["loss"] for c in curves[1]]  # bit-identical reruns
    assert all(c["grad_norm"] is not None and c["grad_norm"] > 0 for c in curves[0])
    expected = _step0_expectation(tiny_disc, data, head, batch=4)
    assert curves[0][0]["loss"] == pytest.approx(expected, rel=1e-5)
    assert curves[0][0]["lr"] == 0.0  # update 0 at global_step 0 (TPU/resource-variable semantics)
    mean = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "c", loss_reduction="mean", **args)
    assert mean is not None
    mean_curve = [json.loads(x) for x in (tmp_path / "c" / "curve.jsonl").read_text().splitlines() if '"loss"' in x]
    assert mean_curve[0]["loss"] == pytest.approx(expected / 4, rel=1e-5)  # "mean" is opt-in, 1/batch of the seed


def test_warmup_is_fractional_and_gpu_schedule_uses_the_next_rate():
    from paddle_electra.training.optim import RecipeConfig, SeedAdamW, seed_lr, warmup_steps_for

    assert warmup_steps_for(25, 0.1) == 2.5 and warmup_steps_for(22383, 0.1) == pytest.approx(2238.3)
    assert seed_lr(1, 1e-3, 25, 2.5) == pytest.approx(1e-3 * (1 - 1 / 25) * (1 / 2.5))  # not 1/2 (int warmup)
    import paddle

    layer = paddle.nn.Linear(2, 2)
    tpu = SeedAdamW(layer, RecipeConfig(learning_rate=1e-3), total_steps=25, num_layers=0)
    gpu = SeedAdamW(layer, RecipeConfig(learning_rate=1e-3, schedule="gpu"), total_steps=25, num_layers=0)
    assert tpu.get_lr() == 0.0 and gpu.get_lr() == pytest.approx(seed_lr(1, 1e-3, 25, 2.5))


def test_seed_qa_loss_is_summed_with_half_weighted_answerability():
    import paddle

    from paddle_electra.catalog import Sizes
    from paddle_electra.modeling.config import electra_config
    from paddle_electra.modeling.heads import ElectraForSeedQA

    paddle.seed(3)
    config = electra_config(Sizes(16, 16, 1, 2, 32, vocab_size=30, max_position_embeddings=16),
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = ElectraForSeedQA(config, qa_hidden=8)
    model.eval()
    ids = paddle.to_tensor([[2, 5, 3, 6, 7, 8, 3], [2, 9, 3, 10, 11, 12, 3]], dtype="int64")
    types = paddle.to_tensor([[0, 0, 0, 1, 1, 1, 1]] * 2, dtype="int64")
    start, end = paddle.to_tensor([3, 4], dtype="int64"), paddle.to_tensor([4, 5], dtype="int64")
    impossible = paddle.to_tensor([0, 0], dtype="int64")
    mean = float(model(ids, types, start_positions=start, end_positions=end, is_impossible=impossible)[0])
    model.loss_reduction = "sum"
    total, start_logits, end_logits = model(ids, types, start_positions=start, end_positions=end,
                                            is_impossible=impossible)
    assert float(total) == pytest.approx(2 * mean, rel=1e-6)
    # per example: (start NLL + end NLL) / 2 + 0.5 * sigmoid CE(answerable logit, 0), from the logits alone
    def nll(logits, positions):
        logits = logits.numpy().astype("float64")
        shifted = logits - logits.max(1, keepdims=True)
        return -(shifted - np.log(np.exp(shifted).sum(1, keepdims=True)))[np.arange(2), positions.numpy()]

    span = (nll(start_logits, start) + nll(end_logits, end)) / 2
    answerable = float(total) - span.sum()
    assert answerable > 0  # the seed trains the answerability head on CMRC too (is_impossible = 0)


def test_fast_evaluation_equals_eager_evaluation(tmp_path, tiny_disc, caplog):
    """dev/test scoring through the exported runtime gives the eager numbers (accuracy exactly, loss to 1e-4)."""
    data = _write_task(tmp_path / "data")
    common = dict(learning_rate=3e-3, num_train_epochs=2, train_batch_size=8, layerwise_lr_decay=1.0, seed=3)
    with caplog.at_level("DEBUG", logger="paddle_electra"):  # scoring exports log at DEBUG
        fast = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "fast", fast_eval=True, **common)
    assert "max |eager - exported|" in caplog.text and "evaluating with eager Paddle" not in caplog.text
    eager = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "eager", fast_eval=False, **common)
    for split in ("dev", "eval"):
        assert fast[split]["accuracy"] == eager[split]["accuracy"]
        assert abs(fast[split]["loss"] - eager[split]["loss"]) <= 1e-4


def test_qa_fast_evaluation_gives_the_eager_predictions(tmp_path, tiny_disc, caplog):
    """The QA beam through the exported runtime (all five outputs, windows padded to the static length) decodes to
    the same answers as eager Paddle."""
    # fused_kernels off: with them the beam is scored eagerly on the fused pair-score kernel (faster than the export)
    common = dict(num_train_epochs=1, train_batch_size=2, max_seq_length=64, doc_stride=32, beam_size=5, seed=1,
                  fused_kernels=False)
    with caplog.at_level("DEBUG", logger="paddle_electra"):  # scoring exports log at DEBUG
        fast = run_finetuning("cmrc2018", FIXTURES / "tasks", tiny_disc, tmp_path / "fast", fast_eval=True, **common)
    assert "max |eager - exported|" in caplog.text and "evaluating with eager Paddle" not in caplog.text
    eager = run_finetuning("cmrc2018", FIXTURES / "tasks", tiny_disc, tmp_path / "eager", fast_eval=False, **common)
    assert fast["dev"] == eager["dev"]
    read = lambda run: json.loads((run / "results" / "cmrc2018_qa" / "dev" / "predictions.json").read_text())  # noqa: E731
    assert read(tmp_path / "fast") == read(tmp_path / "eager")
    from paddle_electra.ops import available

    if available():  # the default: fused encoder and pair scores, no export, the same answers
        fused = run_finetuning("cmrc2018", FIXTURES / "tasks", tiny_disc, tmp_path / "fused",
                               **{**common, "fused_kernels": True})
        assert fused["dev"] == eager["dev"] and read(tmp_path / "fused") == read(tmp_path / "eager")


def test_reported_dev_metrics_equal_a_fresh_evaluation_of_best_model(tmp_path, tiny_disc):
    """The final dev line reuses the best epoch's evaluation when it was the last one: the numbers must be what
    scoring best_model/ afresh gives."""
    data = _write_task(tmp_path / "data")
    trained = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "run", learning_rate=3e-3,
                             num_train_epochs=3, train_batch_size=8, layerwise_lr_decay=1.0, fast_eval=False)
    again = run_finetuning("chnsenticorp", data, tmp_path / "run" / "best_model", tmp_path / "eval", do_train=False,
                           fast_eval=False)
    assert again["dev"]["accuracy"] == trained["dev"]["accuracy"]
    assert abs(again["dev"]["loss"] - trained["dev"]["loss"]) <= 1e-6


def test_bf16_fine_tuning_learns_what_float32_learns(tmp_path, tiny_disc, caplog):
    """`--bf16` end to end: the loop says it runs bf16 GEMMs, and the run lands where the float32 one does."""
    from paddle_electra.ops import build

    if build.load() is None or build.bf16_unavailable_reason():
        pytest.skip(f"bf16 GEMMs unavailable: {build.bf16_unavailable_reason()}")
    data = _write_task(tmp_path / "data")
    common = dict(learning_rate=3e-3, num_train_epochs=10, train_batch_size=8, layerwise_lr_decay=1.0, seed=3,
                  fast_eval=False)
    with caplog.at_level("INFO", logger="paddle_electra"):
        bf16 = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "bf16", bf16=True, **common)
    assert "bfloat16 GEMMs with float32 accumulation" in caplog.text
    fp32 = run_finetuning("chnsenticorp", data, tiny_disc, tmp_path / "fp32", **common)
    assert fp32["dev"]["accuracy"] == bf16["dev"]["accuracy"] == 100.0  # from 0.69 (chance) to 0.10
    assert 0 < abs(bf16["dev"]["loss"] - fp32["dev"]["loss"]) < 0.02 * fp32["dev"]["loss"]
