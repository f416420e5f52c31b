"""Fine-tuning end to end on a tiny converted model: overfitting, resume after a kill, seed-style entry points."""

from __future__ import annotations

import json
import random
from pathlib import Path

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

    from paddle_electra.finetune import _loop_config, _run_classification  # noqa: F401
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
