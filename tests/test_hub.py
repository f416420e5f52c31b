"""PaddleHub modules (issue 4): generation, install, every task through hub.Module(name=…), training, export,
serving and the error messages, on the tiny converted checkpoint (tests/fixtures/tf_tiny: V=171, H=32)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, shared_models
from hub_helpers import free_port, no_network, point_hub_home, post_json, subprocess_env, wait_http

from paddle_electra.catalog import CATALOG
from paddle_electra.errors import ConfigError, StoreError
from paddle_electra.hub import dir_name, hub_modules_root, install_module, module_dir
from paddle_electra.hub.generate import MODULE_VERSION, generate

ROOT = Path(__file__).resolve().parents[1]
SMALL, SMALL_GEN = "chinese-electra-small", "chinese-electra-small-generator"
TEXTS = [["今天天气很好"], ["我"], ["北京大学的学生", "你好"]]


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(str(FIXTURES / "tf_tiny"), output=str(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory) -> Path:
    """A private $HUB_HOME with the small discriminator and generator modules installed."""
    home = tmp_path_factory.mktemp("hub_home")
    with pytest.MonkeyPatch.context() as mp:
        point_hub_home(mp, home)
        for name in (SMALL, SMALL_GEN):
            install_module(name, hub_home=home)
        yield home


@pytest.fixture
def store(private_store, tiny_models) -> Path:
    """Tiny weights under the small model names in this test's private PADDLE_ELECTRA_HOME."""
    models = private_store / "models"
    shutil.copytree(tiny_models["discriminator"], models / SMALL)
    shutil.copytree(tiny_models["generator"], models / SMALL_GEN)
    return models


@pytest.fixture
def hub(hub_home, store):
    import paddlehub

    return paddlehub


def close(a, b, tol: float = 1e-5) -> bool:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max()) <= tol


# ------------------------------------------------------------------------------------------- generation
def test_module_dirs_are_generated_from_catalog_and_up_to_date():
    assert generate(hub_modules_root(), check=True) == [], "run `python scripts/gen_hub_modules.py`"
    for name in CATALOG:
        text = (module_dir(name) / "module.py").read_text(encoding="utf-8")
        assert f'name="{name}"' in text and f'version="{MODULE_VERSION}"' in text
        assert "def " not in text and len(text.splitlines()) < 25  # the body lives in paddle_electra.hub.module
    assert {p.name for p in hub_modules_root().iterdir() if p.is_dir()} >= {dir_name(n) for n in CATALOG}
    script = subprocess.run([sys.executable, "scripts/gen_hub_modules.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert script.returncode == 0, script.stdout + script.stderr


def test_paddlehub_reads_module_info_of_every_dir(hub_home):
    from paddlehub.module.module import Module

    for name in CATALOG:
        info = Module.load_module_info(str(module_dir(name)))  # the AST parse `hub install` does
        assert info.name == name and info.type == "nlp/semantic_model"


# ---------------------------------------------------------------------------------------------- install
def test_install_then_load_by_name_offline(hub):
    installed = hub_home_modules() / "chinese_electra_small" / "module.py"
    assert installed.is_file()
    with no_network() as attempts:
        module = hub.Module(name=SMALL)
        generator = hub.Module(name=SMALL_GEN)
        hub.Module(name=SMALL, task="seq-cls", num_classes=2).predict([["今天天气很好"]])
    assert attempts == []
    assert module.name == SMALL and str(module.version) == MODULE_VERSION and module.task is None
    assert generator.name == SMALL_GEN and generator.model.config.hidden_size == 8


def hub_home_modules() -> Path:
    import paddlehub.env

    return Path(paddlehub.env.MODULE_HOME)


def test_install_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown model name 'chinese-electra-tiny'"):
        install_module("chinese-electra-tiny", hub_home=tmp_path)
    empty = tmp_path / "hub_modules"
    empty.mkdir()
    monkeypatch.setattr("paddle_electra.hub.install.hub_modules_root", lambda: empty)
    missing = r"hub_modules/chinese_electra_base for chinese-electra-base is missing; regenerate .*gen_hub_modules"
    with pytest.raises(StoreError, match=missing):
        install_module("chinese-electra-base", hub_home=tmp_path)


def test_cli_hub_install_and_unknown_name(tmp_path, capsys):
    from paddle_electra.cli import main

    assert main(["hub-install", "chinese-legal-electra-base", "--hub-home", str(tmp_path)]) == 0
    assert (tmp_path / "modules" / "chinese_legal_electra_base" / "module.py").is_file()
    assert main(["hub-install", "chinese-electra-tiny", "--hub-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model name 'chinese-electra-tiny'") and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ tasks
def test_embeddings_batch_equals_single(hub):
    module = hub.Module(name=SMALL)
    batched = module.predict(TEXTS, max_seq_len=32, batch_size=3)
    assert len(batched) == len(TEXTS)
    for item, (pooled, tokens) in zip(TEXTS, batched):
        [(alone_pooled, alone_tokens)] = module.predict([item], max_seq_len=32)
        n = len(module.tokenizer(*item)["input_ids"])
        assert np.shape(tokens) == (n, 32) and np.shape(pooled) == (32,)
        assert close(tokens, alone_tokens) and close(pooled, alone_pooled)
        assert close(pooled, tokens[0])  # pooled = the [CLS] vector
    assert module.get_embedding(TEXTS, batch_size=2)[2][0] == pytest.approx(batched[2][0], abs=1e-5)


def test_hub_module_runs_on_the_fused_cpu_kernels(hub):
    """On CPU the module's encoder (hub.Trainer's and eager predict's) runs paddle_electra.ops; same numbers."""
    from paddle_electra.ops import available, unfused

    module = hub.Module(name=SMALL)
    fused = [layer for layer in module.model.sublayers() if getattr(layer, "_paddle_electra_fused", False)]
    assert len(fused) == (module.model.config.num_hidden_layers if available() else 0)
    got = module.get_embedding(TEXTS)  # 3 items: eager (the fast runtime starts at 16)
    with unfused(module.model):
        want = module.get_embedding(TEXTS)
    for (pooled, tokens), (pooled_ref, tokens_ref) in zip(got, want):
        assert close(pooled, pooled_ref) and close(tokens, tokens_ref)


def test_seq_cls_predict(hub):
    module = hub.Module(name=SMALL, task="seq-cls", label_map={0: "neg", 1: "pos", 2: "neutral"})
    labels, probs = module.predict(TEXTS, max_seq_len=32, batch_size=2, return_prob=True)
    assert all(label in ("neg", "pos", "neutral") for label in labels) and len(labels) == 3
    assert np.shape(probs) == (3, 3) and np.allclose(np.sum(probs, axis=1), 1.0, atol=1e-5)
    _, alone = module.predict(TEXTS[2:], max_seq_len=32, return_prob=True)
    assert close(alone[0], probs[2])
    assert hub.Module(name=SMALL, task="seq-cls").predict([["好"]]) in ([0], [1])  # default labels: indices


def test_token_cls_predict(hub):
    labels = {0: "B-LOC", 1: "I-LOC", 2: "O"}
    module = hub.Module(name=SMALL, task="token-cls", label_map=labels)
    data = [["北京是中国"], ["我\002在\002北京"]]
    results = module.predict(data, max_seq_len=32, batch_size=2)
    assert [len(r) for r in results] == [5 + 2, 4 + 2]  # [CLS] tokens [SEP]
    assert all(tag in labels.values() for row in results for tag in row)
    assert module.predict_method(data, max_seq_len=32, batch_size=2) == [r[1:-1] for r in results]


def test_text_matching_siamese_and_cross(hub):
    pairs = [["今天天气很好", "天气好"], ["我", "你们"]]
    for matching in ("siamese", "cross"):
        module = hub.Module(name=SMALL, task="text-matching", matching=matching)
        labels, probs = module.predict(pairs, max_seq_len=32, batch_size=2, return_prob=True)
        assert labels == [int(np.argmax(p)) for p in probs] and np.shape(probs) == (2, 2)
        _, alone = module.predict(pairs[1:], max_seq_len=32, return_prob=True)
        assert close(alone[0], probs[1])
    assert "classifier.weight" in hub.Module(name=SMALL, task="text-matching").state_dict()  # official layout
    # hub.datasets.LCQMC batches (query and title encoded apart, padded) become the pairs the seed trains on
    tok = module.tokenizer
    query = [tok(a, max_length=10, padding="max_length")["input_ids"] for a, _ in pairs]
    title = [tok(b, max_length=10, padding="max_length")["input_ids"] for _, b in pairs]
    import paddle

    ids, types = module.pairs_from_siamese(paddle.to_tensor(query), paddle.to_tensor(title))
    for row, (a, b) in enumerate(pairs):
        want = tok(a, b, max_length=10, truncation=True)
        n = len(want["input_ids"])
        assert ids.numpy()[row, :n].tolist() == want["input_ids"] and not ids.numpy()[row, n:].any()
        assert types.numpy()[row, :n].tolist() == want["token_type_ids"]
    with pytest.raises(ConfigError, match=r"must be \[text_a, text_b\]"):
        module.predict([["只有一句"]])


@pytest.mark.parametrize("head", ["seed", "paddlenlp"])
def test_qa_returns_span_of_context(hub, head):
    module = hub.Module(name=SMALL, task="qa", head=head, doc_stride=8)
    long_context = "我在北京大学上学。" * 6  # 54 characters: several windows at max_seq_len 32
    data = [["北京在哪里？", "北京是中国的首都，很大。"], ["你在哪里上学？", long_context]]
    results = module.predict(data, max_seq_len=32, batch_size=2)
    for (_, context), answer in zip(data, results):
        assert answer["text"] and answer["text"] in context
        assert context[answer["start"]:answer["end"]] == answer["text"]
        assert 0.0 < answer["score"] <= 1.0
    assert module.predict(data[1:], max_seq_len=32)[0] == pytest.approx(results[1])


def test_rtd_and_fill_mask(hub):
    rtd = hub.Module(name=SMALL, task="rtd")
    scored = rtd.predict([["今天天气很好"], ["我在北京"]], max_seq_len=32, batch_size=2)
    assert [s["token"] for s in scored[0]] == list("今天天气很好")
    assert all(0.0 <= s["replaced_prob"] <= 1.0 for row in scored for s in row)
    [alone] = rtd.predict([["我在北京"]])
    assert [s["token"] for s in alone] == [s["token"] for s in scored[1]]
    assert close([s["replaced_prob"] for s in alone], [s["replaced_prob"] for s in scored[1]])

    gen = hub.Module(name=SMALL_GEN, task="fill-mask")
    [masks] = gen.predict([["今天天气很[MASK]"]], top_k=3)
    [candidates] = masks
    assert len(candidates) == 3 and candidates[0]["prob"] >= candidates[1]["prob"] >= candidates[2]["prob"]
    with pytest.raises(ConfigError, match=r"at least one \[MASK\]"):
        gen.predict([["没有掩码"]])


def test_tasks_need_the_right_half(hub):
    with pytest.raises(ConfigError, match=r"needs a discriminator; use hub.Module\(name='chinese-electra-small'"):
        hub.Module(name=SMALL_GEN, task="rtd")
    with pytest.raises(ConfigError, match=r"needs a generator; use hub.Module\(name='chinese-electra-small-gen"):
        hub.Module(name=SMALL, task="fill-mask")


# --------------------------------------------------------------------------------------------- training
def _write_tsv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("label\ttext_a\n" + "".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")


def test_trainer_two_epochs_seq_cls_loss_falls(hub, tmp_path):
    import paddle
    from paddlehub.datasets.base_nlp_dataset import TextClassificationDataset

    paddle.seed(0)
    module = hub.Module(name=SMALL, task="seq-cls", label_map={0: "0", 1: "1"})
    positive = ["今天天气很好", "天气很好", "今天很好", "北京天气很好", "好天气", "天气好", "今天天气好", "很好"]
    negative = ["我不想吃饭", "我不吃饭", "不想去学校", "我不去", "他不吃", "不想吃", "他不想去", "我们不去"]
    _write_tsv(tmp_path / "train.tsv", [("1", t) for t in positive] + [("0", t) for t in negative])
    dataset = TextClassificationDataset(str(tmp_path), module.get_tokenizer(), max_seq_len=16, mode="train",
                                        data_file="train.tsv", label_list=["0", "1"], is_file_with_header=True)
    losses: list[float] = []
    step = module.training_step

    def recording_step(batch, batch_idx):
        result = step(batch, batch_idx)
        losses.append(float(result["loss"]))
        return result

    module.training_step = recording_step
    optimizer = paddle.optimizer.AdamW(learning_rate=3e-3, parameters=module.parameters())
    trainer = hub.Trainer(module, optimizer, checkpoint_dir=str(tmp_path / "ckpt"), use_vdl=False)
    evaluate = trainer.evaluate
    eval_losses = [evaluate(dataset, batch_size=8)["loss"]]  # before training; then after each epoch
    trainer.evaluate = lambda *args, **kwargs: eval_losses.append(evaluate(*args, **kwargs)["loss"]) or {
        "loss": eval_losses[-1], "metrics": {"neg_loss": -eval_losses[-1]}}
    trainer.train(dataset, epochs=2, batch_size=4, eval_dataset=dataset, save_interval=1, log_interval=100)
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert len(eval_losses) == 3 and eval_losses[0] > eval_losses[1] > eval_losses[2], eval_losses

    saved = tmp_path / "ckpt" / "epoch_2" / "model.pdparams"
    assert saved.is_file() and (tmp_path / "ckpt" / "best_model" / "model.pdparams").is_file()
    restored = hub.Module(name=SMALL, task="seq-cls", label_map={0: "0", 1: "1"}, load_checkpoint=str(saved))
    _, expected = module.predict([["今天天气很好"], ["我不吃饭"]], max_seq_len=16, batch_size=2, return_prob=True)
    _, got = restored.predict([["今天天气很好"], ["我不吃饭"]], max_seq_len=16, batch_size=2, return_prob=True)
    assert close(expected, got)


def test_every_task_has_training_and_validation_steps(hub, tmp_path):
    import paddle

    from paddle_electra.hub.qa import SpanDataset

    def t(rows, dtype="int64"):
        return paddle.to_tensor(np.array(rows, dtype=dtype))

    ids = [[2, 14, 10, 3, 0], [2, 7, 3, 0, 0]]
    types = [[0] * 5, [0] * 5]
    token_labels = [[2, 0, 1, 2, -100], [2, 2, 2, -100, -100]]
    cases = [
        (SMALL, {"task": "seq-cls"}, [t(ids), t(types), t([1, 0])]),
        (SMALL, {"task": "seq-cls", "head": "paddlenlp"}, [t(ids), t(types), t([1, 0])]),
        (SMALL, {"task": "token-cls", "label_map": {0: "B-LOC", 1: "I-LOC", 2: "O"}},
         [t(ids), t(types), t([4, 3]), t(token_labels)]),
        (SMALL, {"task": "text-matching"}, [t(ids), t(types), t(ids), t(types), t([1, 0])]),
        (SMALL, {"task": "text-matching", "matching": "cross"}, [t(ids), t(types), t(ids), t(types), t([1, 0])]),
        (SMALL, {"task": "text-matching", "matching": "cross"}, [t(ids), t(types), t([1, 0])]),
        (SMALL, {"task": "rtd"}, [t(ids), t(types), t([[-100, 0, 1, -100, -100], [-100, 1, -100, -100, -100]])]),
        (SMALL_GEN, {"task": "fill-mask"}, [t([[2, 4, 10, 3, 0], [2, 4, 3, 0, 0]]), t(types),
                                            t([[-100, 14, -100, -100, -100], [-100, 7, -100, -100, -100]])]),
    ]
    for name, kwargs, batch in cases:
        module = hub.Module(name=name, **kwargs)
        result = module.training_step(batch, 0)
        assert np.isfinite(float(result["loss"])), kwargs
        result["loss"].backward()
        assert module.validation_step(batch, 0)["metrics"], kwargs

    for head in ("paddlenlp", "seed"):
        module = hub.Module(name=SMALL, task="qa", head=head)
        examples = [{"question": "北京在哪里？", "context": "北京是中国的首都。", "answers": [{"text": "中国"}]},
                    ("谁在上学？", "我在北京上学。", "我", 0)]
        dataset = SpanDataset(examples, module.get_tokenizer(), max_seq_len=24)
        ids_, types_, start, end = (np.stack(column) for column in zip(*(dataset[i] for i in range(len(dataset)))))
        first = dataset.features[0]
        span = first.token_to_char[first.start_position][0], first.token_to_char[first.end_position][1]
        assert "北京是中国的首都。"[span[0]:span[1]] == "中国" and int(start[0]) == first.start_position
        loss = module.training_step([t(ids_), t(types_), t(start), t(end)], 0)["loss"]
        assert np.isfinite(float(loss))
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=module.parameters())
    hub.Trainer(module, optimizer, checkpoint_dir=str(tmp_path / head), use_vdl=False).train(
        dataset, epochs=1, batch_size=2, eval_dataset=dataset, save_interval=1)  # SpanDataset via hub.Trainer
    assert (tmp_path / head / "epoch_1" / "model.pdparams").is_file()

    with pytest.raises(ConfigError, match=r"expects batches \(input_ids, token_type_ids, labels\)"):
        hub.Module(name=SMALL, task="seq-cls").training_step([t(ids), t(types)], 0)
    with pytest.raises(ConfigError, match="no training objective"):
        hub.Module(name=SMALL).training_step([t(ids), t(types), t([1, 0])], 0)


# --------------------------------------------------------------------------------------- errors / weights
def test_missing_weights_names_variant_and_command(hub_home, private_store):
    import paddlehub

    with pytest.raises(StoreError) as err:
        paddlehub.Module(name=SMALL, task="seq-cls")
    message = str(err.value)
    assert "hub module chinese-electra-small has no weights" in message
    assert "`paddle-electra convert --tf-checkpoint DIR --name chinese-electra-small`" in message
    assert "model_dir=" in message and "\n" not in message


def test_model_dir_argument(hub_home, private_store, tiny_models):
    import paddlehub

    module = paddlehub.Module(name=SMALL, model_dir=str(tiny_models["discriminator"]))  # empty store
    assert module.model_dir == tiny_models["discriminator"]
    with pytest.raises(StoreError, match="model_dir /nonexistent/electra does not exist"):
        paddlehub.Module(name=SMALL, model_dir="/nonexistent/electra")


def test_unknown_task_and_options(hub):
    with pytest.raises(ConfigError, match=r"unknown task 'sentiment'; choose one of None \(embeddings\), seq-cls"):
        hub.Module(name=SMALL, task="sentiment")
    with pytest.raises(ConfigError, match="token-cls' needs label_map"):
        hub.Module(name=SMALL, task="token-cls")
    with pytest.raises(ConfigError, match="unknown head 'bert'"):
        hub.Module(name=SMALL, task="seq-cls", head="bert")
    assert hub.Module(name=SMALL, task="sequence_classification").task == "seq-cls"  # the official alias


def test_load_checkpoint_errors(hub, tmp_path):
    import paddle

    three = hub.Module(name=SMALL, task="seq-cls", num_classes=3)
    paddle.save(three.state_dict(), str(tmp_path / "model.pdparams"))
    with pytest.raises(ConfigError, match=r"trained with 3 classes .* has num_classes=2; pass num_classes=3"):
        hub.Module(name=SMALL, task="seq-cls", load_checkpoint=str(tmp_path / "model.pdparams"))
    assert hub.Module(name=SMALL, task="seq-cls", num_classes=3, load_checkpoint=str(tmp_path)).num_classes == 3

    official_layout = hub.Module(name=SMALL, task="seq-cls", head="paddlenlp")
    paddle.save(official_layout.state_dict(), str(tmp_path / "official.pdparams"))
    with pytest.raises(ConfigError, match="PaddleNLP's 2-layer classifier: pass head='paddlenlp'"):
        hub.Module(name=SMALL, task="seq-cls", load_checkpoint=str(tmp_path / "official.pdparams"))
    with pytest.raises(StoreError, match="load_checkpoint .*missing.pdparams not found"):
        hub.Module(name=SMALL, task="seq-cls", load_checkpoint=str(tmp_path / "missing.pdparams"))


# --------------------------------------------------------------------------------------------- export
@pytest.mark.parametrize("name, kwargs", [
    (SMALL, {"task": "seq-cls"}), (SMALL, {}), (SMALL, {"task": "text-matching"}), (SMALL, {"task": "qa"}),
    (SMALL, {"task": "rtd"}), (SMALL_GEN, {"task": "fill-mask"}),
], ids=["seq-cls", "embedding", "siamese", "qa-seed", "rtd", "fill-mask"])
def test_save_inference_model_matches_dygraph(hub, tmp_path, name, kwargs):
    import paddle

    module = hub.Module(name=name, **kwargs)
    module.save_inference_model(str(tmp_path))
    loaded = paddle.jit.load(str(tmp_path / name))
    width = module.max_position if kwargs.get("task") == "qa" else 8  # the seed QA beam needs a fixed length
    ids = np.zeros((2, width), dtype="int64")
    ids[0, :6], ids[1, :4] = [2, 14, 10, 11, 3, 7], [2, 7, 4, 3]
    types = np.zeros_like(ids)
    types[0, 4:6] = 1
    feed = [paddle.to_tensor(ids), paddle.to_tensor(types)]
    got = loaded(*feed, *feed) if kwargs.get("task") == "text-matching" else loaded(*feed)
    module.eval()
    with paddle.no_grad():
        expected = module._export_layer()(*feed, *feed) if kwargs.get("task") == "text-matching" else \
            module._export_layer()(*feed)
    for g, e in zip(*(x if isinstance(x, (list, tuple)) else [x] for x in (got, expected))):
        assert close(g.numpy(), e.numpy(), tol=1e-4), kwargs


def test_export_onnx_model(hub, tmp_path):
    import onnx

    path = hub.Module(name=SMALL, task="seq-cls").export_onnx_model(str(tmp_path / "onnx"))
    assert path == tmp_path / "onnx" / f"{SMALL}.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input_ids", "token_type_ids"]


# ---------------------------------------------------------------------------------------------- serving
def test_hub_install_cli_then_serving_answers_http(tmp_path, store, private_store):
    home = tmp_path / "hub"
    env = subprocess_env(HUB_HOME=str(home), PADDLE_ELECTRA_HOME=str(private_store))
    hub_cli = Path(sys.executable).with_name("hub")
    installed = subprocess.run([str(hub_cli), "install", str(module_dir(SMALL))], env=env, capture_output=True,
                               text=True, timeout=120)
    assert installed.returncode == 0 and (home / "modules" / "chinese_electra_small" / "module.py").is_file(), \
        installed.stdout + installed.stderr

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "paddle_electra.hub.serving", "start", "-m", SMALL, "-p", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=60, alive=lambda: server.poll() is None)
        reply = post_json(f"http://127.0.0.1:{port}/predict/{SMALL}", {"data": [["今天天气很好"], ["我"]],
                                                                       "max_seq_len": 32, "batch_size": 2})
    finally:
        server.kill()
        output = server.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert reply["status"] == "000", (reply, output[-2000:])
    pooled, tokens = reply["results"][0]
    assert len(reply["results"]) == 2 and len(pooled) == 32 and np.shape(tokens) == (8, 32)
    assert f"Running on http://127.0.0.1:{port}" in output  # bound to loopback, not 0.0.0.0


# ------------------------------------------------------------------------------------------ real weights
def _real_small(tmp_path: Path) -> dict[str, Path] | None:
    """Model directories of the real small discriminator and generator, converted from TF if need be."""
    from paddle_electra.store import is_model_dir

    root = shared_models()
    if root is None:
        return None
    for base in (root, root / "models"):
        if is_model_dir(base / SMALL) and is_model_dir(base / SMALL_GEN):
            return {"discriminator": base / SMALL, "generator": base / SMALL_GEN}
    checkpoints = sorted(p for p in root.rglob("electra_small.index") if "ex" not in p.parent.name)
    if not checkpoints:
        return None
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(str(checkpoints[0].with_suffix("")), output=str(tmp_path / "real"))


@pytest.mark.slow
@pytest.mark.real_weights
def test_real_small_module_fill_mask_and_rtd(hub_home, private_store, tmp_path):
    import paddlehub

    dirs = _real_small(tmp_path)
    if dirs is None:
        pytest.skip("no real chinese-electra-small weights under ../shared/models")
    gen = paddlehub.Module(name=SMALL_GEN, task="fill-mask", model_dir=str(dirs["generator"]))
    [[capital]] = gen.predict([["中国的首都是北[MASK]。"]], top_k=5)
    assert "京" in [c["token"] for c in capital], capital

    rtd = paddlehub.Module(name=SMALL, task="rtd", model_dir=str(dirs["discriminator"]))
    [scores] = rtd.predict([["我今天早上吃了一碗书。"]])  # 书 (book) replaces 饭 (rice)
    probs = {s["token"]: s["replaced_prob"] for s in scores}
    assert max(probs, key=probs.get) == "书", scores


# ---------------------------------------------------------------- issue 14: gaps against the official module
def test_official_version_pins_are_served_offline(hub):
    with no_network() as attempts:
        for version in ("2.0.1", "2.0.2", "==2.0.2", None):
            assert hub.Module(name=SMALL, version=version).name == SMALL
    assert attempts == []


def test_hub_show_does_not_crash(hub_home):
    from paddlehub.commands.show import ShowCommand

    assert ShowCommand().execute([str(module_dir(SMALL))]) is not False


def test_adjacent_masks_survive_tokenization(hub):
    module = hub.Module(name=SMALL_GEN, task="fill-mask")
    tokens = module.tokenizer.tokenize("北京是[MASK][MASK]的首都")
    assert tokens.count("[MASK]") == 2 and "[UNK]" not in tokens[:5]
    [masks] = module.predict([["北京是[MASK][MASK]的首都"]], top_k=2)
    assert len(masks) == 2


def test_empty_text_is_predicted_not_fatal(hub):
    module = hub.Module(name=SMALL, task="seq-cls", label_map={0: "neg", 1: "pos"})
    results = module.predict([["好"], [""], ["   "]], max_seq_len=16, batch_size=3)
    assert len(results) == 3 and all(r in ("neg", "pos") for r in results)


def test_checkpoint_of_another_task_is_refused(hub, tmp_path):
    import paddle

    token = hub.Module(name=SMALL, task="token-cls", label_map={0: "B-PER", 1: "O"})
    paddle.save(token.state_dict(), str(tmp_path / "model.pdparams"))
    with pytest.raises(ConfigError, match=r"trained as task=token-cls.*construct it with task='token-cls'"):
        hub.Module(name=SMALL, task="seq-cls", num_classes=2, load_checkpoint=str(tmp_path / "model.pdparams"))


def test_forward_without_task_returns_the_sequence_tensor(hub):
    import paddle

    module = hub.Module(name=SMALL)
    ids = paddle.to_tensor([[2, 15, 16, 3]], dtype="int64")
    out = module(ids, paddle.zeros_like(ids))
    assert list(out.shape) == [1, 4, 32] and list(out[:, 0].shape) == [1, 32]


def test_official_runtime_errors_are_still_runtime_errors(hub):
    with pytest.raises(RuntimeError):
        hub.Module(name=SMALL, task="sentiment")
    with pytest.raises(RuntimeError):
        hub.Module(name=SMALL, task="seq-cls").get_embedding([["你好"]])


def test_label_map_is_validated(hub):
    with pytest.raises(ConfigError, match=r"maps index -> label.*invert it"):
        hub.Module(name=SMALL, task="seq-cls", label_map={"negative": 0, "positive": 1})
    with pytest.raises(ConfigError, match=r"keys must be 0\.\.1 .*got \[1, 5\]"):
        hub.Module(name=SMALL, task="seq-cls", label_map={1: "a", 5: "b"})
    assert hub.Module(name=SMALL, task="seq-cls", label_map={"0": "a", "1": "b"}).label_map == {0: "a", 1: "b"}


def test_get_tokenizer_passes_keywords_like_the_official_staticmethod(hub):
    module = hub.Module(name=SMALL)
    assert module.get_tokenizer(do_lower_case=False).tokenize("AB")[0] != module.get_tokenizer().tokenize("AB")[0] \
        or module.get_tokenizer(do_lower_case=False).hfl_lower_case is False
    assert type(module).get_tokenizer().tokenize("你好") == ["你", "好"]


def test_token_cls_f1_ignores_padding_and_is_the_sets_f1(hub, monkeypatch):
    import paddle

    labels = {0: "B-PER", 1: "I-PER", 2: "O"}
    module = hub.Module(name=SMALL, task="token-cls", label_map=labels)
    module.eval()
    # two sentences padded to 8 as SeqLabelingDataset does (seq_len = max_seq_len, -100 past the tokens)
    ids = paddle.to_tensor([[2, 15, 16, 3, 0, 0, 0, 0], [2, 15, 3, 0, 0, 0, 0, 0]], dtype="int64")
    gold = paddle.to_tensor([[2, 0, 1, 2, -100, -100, -100, -100], [2, 0, 2, -100, -100, -100, -100, -100]],
                            dtype="int64")
    seq_len = paddle.to_tensor([8, 8], dtype="int64")

    def perfect_on_tokens_b_per_on_padding(self, input_ids, *args, **kwargs):
        rows = [0 if int(r[2]) == 16 else 1 for r in input_ids.numpy()]  # which sentence each row is
        logits = np.full((len(rows), 8, 3), -5.0, dtype="float32")
        logits[:, :, 0] = 5.0  # B-PER everywhere, padding included
        for out_row, row in enumerate(rows):
            for k, tag in enumerate(gold.numpy()[row]):
                if tag != -100:
                    logits[out_row, k, :] = -5.0
                    logits[out_row, k, tag] = 5.0
        return paddle.to_tensor(logits)

    monkeypatch.setattr(type(module.model), "forward", perfect_on_tokens_b_per_on_padding)
    results = [module.validation_step([ids[i:i + 1], paddle.zeros_like(ids[i:i + 1]), seq_len[i:i + 1],
                                       gold[i:i + 1]], i) for i in range(2)]
    reported = sum(r["metrics"]["f1_score"] for r in results) / 2  # what hub.Trainer.evaluate prints
    assert reported == pytest.approx(1.0)


@pytest.mark.parametrize("head", ["seed", "paddlenlp"])
def test_hub_qa_and_fine_tuning_evaluation_pick_the_same_span(hub, head):
    """One pipeline: the hub's predict and fine-tuning's evaluation decode the same weights identically."""
    from types import SimpleNamespace

    from paddle_electra.finetune.qa import predict_qa
    from paddle_electra.hub import qa as spans
    from paddle_electra.tasks.qa_features import featurize_qa

    module = hub.Module(name=SMALL, task="qa", head=head, doc_stride=8)
    context = "北京是中国的首都，也是中国的政治中心。上海是中国最大的城市，位于长江的入海口。" * 3
    items = [["中国的首都是哪里？", context], ["最大的城市是哪个？", context[:40]]]
    hub_answers = module.predict(items, max_seq_len=32)
    if head == "seed":
        examples = spans.examples_for(items)
        features = featurize_qa(examples, module.tokenizer, 32, 8, spans.MAX_QUERY_LEN)
        assert sum(f.example_index == 0 for f in features) > 2  # several windows
        settings = SimpleNamespace(eval_batch_size=4, n_best_size=spans.N_BEST, max_answer_length=module.max_answer_len)
        predictions, _ = predict_qa(module.model, examples, features, settings)
        assert [a["text"] for a in hub_answers] == [predictions[e.qid] for e in examples]
    for (_, ctx), answer in zip(items, hub_answers):
        assert ctx[answer["start"]:answer["end"]] == answer["text"]
