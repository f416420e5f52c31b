"""Users' data: `data prepare` for released files, and fine-tuning on a custom CSV/TSV/JSONL with named columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paddle_electra.cli import main
from paddle_electra.errors import DataError, StoreError

FIXTURES = Path(__file__).parent / "fixtures"
RELEASED = FIXTURES / "tasks" / "released" / "finetuning_data"
POS = ["这家店的菜很好吃", "服务很好很满意", "环境不错下次还来", "味道好价格也公道"]
NEG = ["太难吃了再也不来", "服务态度很差", "等了一个小时没上菜", "又贵又难吃"]


@pytest.fixture(scope="module")
def tiny_disc(tmp_path_factory) -> Path:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(FIXTURES / "tf_tiny", output=tmp_path_factory.mktemp("own"))["discriminator"]


def _cli(argv, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_data_prepare_lays_out_and_reports_each_split(tmp_path, capsys):
    out = tmp_path / "data"
    rc, stdout, _ = _cli(["data", "prepare", "lcqmc", "--dev", RELEASED / "lcqmc" / "dev.tsv", "--test",
                          RELEASED / "lcqmc" / "test.txt", "--output", out], capsys)
    assert rc == 0
    assert "dev: 2 examples" in stdout and "labels: 1 1, 0 1" in stdout
    assert sorted(p.name for p in (out / "finetuning_data" / "lcqmc").iterdir()) == [
        ".paddle-electra", "dev.tsv", "test.txt"]
    copied = out / "finetuning_data" / "lcqmc" / "test.txt"
    assert copied.read_bytes() == (RELEASED / "lcqmc" / "test.txt").read_bytes()
    rc, _, err = _cli(["data", "prepare", "lcqmc", "--dev", RELEASED / "lcqmc" / "dev.tsv", "--output", out], capsys)
    assert rc == 2 and "--force" in err
    rc, _, _ = _cli(["data", "prepare", "lcqmc", "--dev", RELEASED / "lcqmc" / "dev.tsv", "--output", out,
                     "--force"], capsys)
    assert rc == 0 and not (out / "finetuning_data" / "lcqmc" / "test.txt").exists()


def test_data_prepare_names_skipped_lines_and_leaves_nothing_on_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "dev.tsv"
    bad.write_text("q1\tq2\tlabel\n你好\t您好\t1\n\n坏行\n", encoding="utf-8")
    rc, _, err = _cli(["data", "prepare", "lcqmc", "--dev", bad, "--output", tmp_path / "data"], capsys)
    assert rc == 2 and "dev.tsv:4" in err
    assert not (tmp_path / "data" / "finetuning_data" / "lcqmc").exists()
    bad.write_text("q1\tq2\tlabel\n你好\t您好\t1\n\n再见\t拜拜\t0\n", encoding="utf-8")
    rc, stdout, _ = _cli(["data", "prepare", "lcqmc", "--dev", bad, "--output", tmp_path / "data"], capsys)
    assert rc == 0 and "skipped 1 (header) at dev.tsv:1; skipped 1 (blank) at dev.tsv:3" in stdout


def _own_csv(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ['id,review,sentiment'] + [f'{i},"{t}",{"好评" if i % 2 == 0 else "差评"}'
                                      for i, t in enumerate(x for pair in zip(POS, NEG) for x in pair)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_finetune_on_own_csv_with_named_columns_then_predict(tmp_path, tiny_disc, capsys):
    data = tmp_path / "data"
    for split in ("train", "dev"):
        _own_csv(data / "custom" / f"{split}.csv")
    run = tmp_path / "run"
    rc, stdout, err = _cli(["finetune", "custom", "--data-dir", data, "--model", tiny_disc, "--output", run,
                            "--text-column", "review", "--label-column", "sentiment", "--epochs", "2",
                            "--batch-size", "4", "--max-seq-length", "32"], capsys)
    assert rc == 0, err[-2000:]
    assert "dev: custom" in stdout or "dev:" in stdout
    labels = json.loads((run / "best_model" / "labels.json").read_text(encoding="utf-8"))
    assert labels["task"] == "custom" and sorted(labels["labels"]) == ["好评", "差评"]
    rc, stdout, _ = _cli(["predict", run / "best_model", "服务很好"], capsys)
    assert rc == 0 and stdout.split("\t")[0] in ("好评", "差评")


def test_custom_jsonl_pairs_are_read_by_key_names(tmp_path):
    from paddle_electra.tasks import custom_task, load_split

    d = tmp_path / "custom"
    d.mkdir()
    lines = [{"query": "花呗怎么还款", "title": "花呗如何还钱", "label": "1"},
             {"query": "花呗怎么还款", "title": "借呗额度多少", "label": "0"}]
    (d / "train.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    data = load_split(custom_task(), tmp_path, "train")
    assert [(e.text_a, e.text_b, e.label) for e in data.examples] == [
        ("花呗怎么还款", "花呗如何还钱", "1"), ("花呗怎么还款", "借呗额度多少", "0")]
    with pytest.raises(DataError, match="cannot tell the text and label fields"):
        (d / "train.jsonl").write_text('{"a": "x", "b": "y"}\n', encoding="utf-8")
        load_split(custom_task(), tmp_path, "train")
    from paddle_electra.tasks import read_tsv_examples

    with pytest.raises(DataError, match="no column named 'comment'"):
        read_tsv_examples(_own_csv(d / "dev.csv"), custom_task(text_column="comment"), "dev")


def test_data_prepare_refuses_to_write_over_its_inputs(tmp_path, capsys):
    src = tmp_path / "finetuning_data" / "lcqmc"
    src.mkdir(parents=True)
    (src / "dev.tsv").write_bytes((RELEASED / "lcqmc" / "dev.tsv").read_bytes())
    with pytest.raises(StoreError):
        from paddle_electra.tasks.prepare import prepare_task

        prepare_task("lcqmc", {"dev": src / "dev.tsv"}, tmp_path, force=True)
    assert (src / "dev.tsv").is_file()


# ------------------------------------------------------------------------------------------------ NER
SENTENCES = [("张三在北京工作", "B-PER I-PER O B-LOC I-LOC O O"), ("李四去上海", "B-PER I-PER O B-LOC I-LOC"),
             ("王五住在广州", "B-PER I-PER O O B-LOC I-LOC"), ("赵六爱杭州", "B-PER I-PER O B-LOC I-LOC")]


def _conll(path: Path, sentences=SENTENCES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = ["\n".join(f"{ch}\t{tag}" for ch, tag in zip(text, tags.split())) for text, tags in sentences]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_bio_readers_and_entity_f1():
    from paddle_electra.tasks.ner import chunk_f1, chunks

    assert chunks(("B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER")) == {(0, 2, "PER"), (3, 5, "LOC"), (5, 6, "PER")}
    assert chunks(("S-PER", "B-LOC", "E-LOC")) == {(0, 1, "PER"), (1, 3, "LOC")}
    gold = [("B-PER", "I-PER", "O"), ("B-LOC", "O", "O")]
    assert chunk_f1(gold, gold)["f1"] == 1.0
    half = chunk_f1(gold, [("B-PER", "I-PER", "O"), ("O", "O", "O")])
    assert (half["precision"], half["recall"]) == (1.0, 0.5)


def test_bio_layouts_and_errors(tmp_path):
    from paddle_electra.tasks.ner import read_bio

    examples, _ = read_bio(_conll(tmp_path / "train.txt"), "train")
    assert examples[0].tokens == tuple("张三在北京工作") and examples[1].tags[-1] == "I-LOC"
    jsonl = tmp_path / "train.jsonl"
    lines = ['{"text": "张三", "labels": ["B-PER", "I-PER"]}', '{"tokens": ["李", "四"], "tags": ["B-PER", "I-PER"]}']
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert [e.tokens for e in read_bio(jsonl, "train")[0]] == [("张", "三"), ("李", "四")]
    bad = tmp_path / "bad.txt"
    bad.write_text("张\tB-PER\n三\tPERSON\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:1: tag 'PERSON' is not BIO"):
        read_bio(bad, "train")
    jsonl.write_text('{"tokens": ["李", "四"], "tags": ["B-PER"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.jsonl:1: 2 tokens but 1 tags"):
        read_bio(jsonl, "train")


def test_finetune_ner_learns_and_tags(tmp_path, tiny_disc, capsys):
    data = tmp_path / "data"
    _conll(data / "ner" / "train.txt", SENTENCES * 4)
    _conll(data / "ner" / "dev.txt")
    run = tmp_path / "run"
    rc, stdout, err = _cli(["finetune", "ner", "--data-dir", data, "--model", tiny_disc, "--output", run,
                            "--epochs", "30", "--batch-size", "4", "--learning-rate", "3e-3",
                            "--max-seq-length", "16"], capsys)
    assert rc == 0, err[-3000:]
    f1 = float(stdout.split("f1: ")[-1].split()[0])
    assert f1 > 0.5, stdout  # the tiny random model learns the four sentences' entities
    labels = json.loads((run / "best_model" / "labels.json").read_text(encoding="utf-8"))
    assert labels["head"] == "token-cls" and labels["labels"][0] == "O"
    rc, stdout, _ = _cli(["predict", run / "best_model", "张三在北京"], capsys)
    assert rc == 0 and stdout.startswith("张三在北京\t张/")
    assert len(stdout.split("\t")[1].split()) == 5


def test_data_prepare_reads_tagged_sentences_with_the_bio_reader(tmp_path, capsys):
    src = _conll(tmp_path / "src" / "train.txt")
    rc, stdout, err = _cli(["data", "prepare", "ner", "--train", src, "--output", tmp_path / "data"], capsys)
    assert rc == 0, err[-2000:]
    assert "train: 4 examples" in stdout and "tags: O 7, B-PER 4, I-PER 4, B-LOC 4, I-LOC 4" in stdout
    assert (tmp_path / "data" / "finetuning_data" / "ner" / "train.txt").is_file()
