"""The real released files in ../shared/data: every split reads with its official count, HFL's index plans.

Each file is put into the seed layout by name only (content untouched), as a user would. First and last
examples were checked by eye against ``head``/``tail`` of the raw files. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data

from paddle_electra.tasks import load_split

DATA = shared_data()
pytestmark = pytest.mark.skipif(DATA is None, reason="../shared/data (real released files) is absent")

# (task, split, released file, official count, first (text_a or qid, text_b, label), last)
SPLITS = [
    ("chnsenticorp", "train", "chnsenticorp/train.tsv", 9600, ("选择珠江花园的原因就是方", None, "1"),
     ("跟心灵鸡汤没什么本质区别", None, "0")),
    ("chnsenticorp", "dev", "chnsenticorp/dev.tsv", 1200, ("這間酒店環境和服務態度亦", None, "1"),
     ("5月8日付款成功，当当网", None, "0")),
    ("chnsenticorp", "eval", "chnsenticorp/test.tsv", 1200, ("这个宾馆比较陈旧了，特价", None, "1"),
     ("挺失望的,还不如买一本张", None, "0")),
    ("lcqmc", "dev", "lcqmc/dev.tsv", 8802, ("开初婚未育证明怎么弄？", "初婚未育情况证明怎么开？", "1"),
     ("不想学习，没有动力，怎么", "不想学习怎么办啊，没动力", "1")),
    ("lcqmc", "eval", "lcqmc/test.txt", 12500, ("谁有狂三这张高清的", "这张高清图，谁有", "0"),
     ("天兵天将是什么生肖？", "天兵天将是指什么生肖", "1")),
    ("bqcorpus", "train", "bq_corpus/train.csv", 100000, ("\x08何时会邀请我使用微粒贷", "不能贷款吗", "0"),
     ("？我的可借是8000哪为", "为什么我没资格在微粒贷借", "0")),
    ("bqcorpus", "dev", "bq_corpus/dev.csv", 10000, ("不要借了我是试试看能否操", "借款审核期间能否取消借款", "0"),
     ("不使用可以关闭吗？", "额度申请成功后会短信通知", "0")),
    ("bqcorpus", "eval", "bq_corpus/test.csv", 10000, ("为什么我无法看到额度", "为什么开通了却没有额度", "0"),
     ("还款成功  额度没有恢复", "迟还款几天会影响信用", "0")),
    ("xnli", "dev", "xnli/xnli_zh_dev.tsv", 2490, ("他说，妈妈，我回来了。", "校车把他放下后，他立即给", "neutral"),
     ("虽然陈述更好，但答案给出", "声明更略胜一筹。", "entailment")),
    ("xnli", "train", "xnli/cmnli_dev_minus_xnli_dev.tsv", 9751,
     ("新的权利已经足够好了", "每个人都很喜欢最新的福利", "neutral"),
     ("美国80%的寻呼机被太空", "美国的寻呼机没有受到卫星", "contradictory")),
    ("cmrc2018", "dev", "cmrc2018/cmrc2018_trial.json", 1002, ("TRIAL_800_QUERY_0",), ("TRIAL_468_QUERY_2",)),
    ("cmrc2018", "dev", "cmrc2018/cmrc2018_dev.json", 3219, ("DEV_0_QUERY_0",), ("DEV_1989_QUERY_4",)),
    ("drcd", "dev", "drcd/DRCD_dev.json", 3524, ("1147-5-1",), ("6520-2-3",)),
    ("drcd", "eval", "drcd/DRCD_test.json", 3493, ("1147-2-1",), ("6519-1-3",)),
]
# CAIL 2018: the single-charge subset (the task is single-label charge prediction); multi-charge cases are
# counted as skipped, so kept + skipped is the file's case count.
CAIL = [("train", "data_train.json", 3675, 3272), ("dev", "data_valid_sample.json", 1000, 983),
        ("eval", "data_test.json", 1397, 1334), ("eval", "data_test_sample.json", 1000, None)]


def _lay_out(tmp_path: Path, task: str, split: str, released: str, extra: tuple[str, ...] = ()) -> Path:
    source = DATA / released
    target = tmp_path / "finetuning_data" / task
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target / f"{split}{source.suffix}")
    for name in extra:
        shutil.copy(DATA / Path(released).parent / name, target / name)
    return tmp_path


def _head(example) -> tuple:
    if hasattr(example, "qid"):
        return (example.qid,)
    return (example.text_a[:12], example.text_b[:12] if example.text_b else None, example.label)


@pytest.mark.parametrize("task,split,released,count,first,last", SPLITS,
                         ids=[f"{s[0]}-{Path(s[2]).name}" for s in SPLITS])
def test_real_split_reads_with_its_official_count(tmp_path, task, split, released, count, first, last):
    data = load_split(task, _lay_out(tmp_path, task, split, released), split)
    assert len(data.examples) == count
    assert _head(data.examples[0]) == first and _head(data.examples[-1]) == last


def test_cmrc_trial_empty_questions_are_kept_for_scoring_and_skipped_for_training(tmp_path):
    root = _lay_out(tmp_path, "cmrc2018", "train", "cmrc2018/cmrc2018_trial.json")
    train = load_split("cmrc2018", root, "train")
    # the README names one empty question (TRIAL_776_QUERY_4); the file has two (TRIAL_20_QUERY_0 too)
    assert len(train.examples) == 1000 and train.report.skipped["empty question"] == 2
    assert train.report.warnings["answer_start off by one or two (corrected)"] >= 1
    for example in train.examples:  # every training answer sits exactly at its (corrected) start
        answer = example.answers[0]
        assert example.context[answer.start:answer.start + len(answer.text)] == answer.text


@pytest.mark.parametrize("split,released,cases,kept", CAIL, ids=[c[1] for c in CAIL])
def test_cail_real_files_with_the_official_charge_list(tmp_path, split, released, cases, kept):
    root = _lay_out(tmp_path, "cail2018", split, f"cail2018/{released}", extra=("accu.txt",))
    data = load_split("cail2018", root, split)
    assert len(data.labels) == 202  # accu.txt: the official charges
    assert len(data.examples) + data.report.skipped["multi_label"] == cases
    if kept is not None:
        assert len(data.examples) == kept
    if released == "data_train.json":
        assert data.report.warnings["read as GB18030 (not UTF-8)"] == 1
    assert all(example.label in data.labels for example in data.examples)


# ------------------------------------------------------------------------------------------ HFL's index
HFL = DATA / "hfl" / "chinese_electra_small" if DATA else None


def test_real_hfl_index_plans_completely(tmp_path):
    from paddle_electra.convert.inspect import inspect_path

    report = inspect_path(HFL)
    assert len(report.rows) == 403
    with open(HFL / "variables.tsv", encoding="utf-8") as handle:  # TensorFlow's own listing of this index
        listing = {row[0]: (row[1], row[2]) for row in csv.reader(handle, delimiter="\t")}
    assert {r.name: (str(list(r.shape)).replace(" ", ""), r.dtype) for r in report.rows} == {
        name: (shape.replace(" ", ""), dtype) for name, (shape, dtype) in listing.items()}
    unplaced = [r.name for r in report.rows if not r.destination.startswith(("discriminator:", "generator:",
                                                                              "skipped: optimizer"))]
    assert unplaced == []
    assert [r.name for r in report.rows if r.destination.startswith("skipped")] == ["global_step"]
    assert "chinese-electra-small" in report.releases["discriminator"]
    assert "chinese-electra-small-generator" in report.releases["generator"]
    assert any("electra_small.data-00000-of-00001" in note for note in report.notes)


def test_real_hfl_conversion_names_the_missing_data_shard(tmp_path, capsys):
    from paddle_electra.cli import main

    shutil.copytree(HFL, tmp_path / "release")
    rc = main(["convert", "--tf-checkpoint", str(tmp_path / "release"), "--name", "chinese-electra-small"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(errors) == 1
    assert "electra_small.data-00000-of-00001" in errors[0]


def test_pretraining_packs_real_short_documents(tmp_path):
    """BQ Corpus pairs, one per line as pretraining text: the original's rule leaves most of each example as padding;
    --pack-documents fills it. HFL's real vocab."""
    from paddle_electra.pretraining.data import TextStream
    from paddle_electra.pretraining.run import text_encoder

    with open(DATA / "bq_corpus" / "train.csv", encoding="utf-8-sig", newline="") as handle:
        pairs = [f"{r['sentence1']} {r['sentence2']}" for r, _ in zip(csv.DictReader(handle), range(3000))]
    (tmp_path / "bq.txt").write_text("\n".join(" ".join(p.split()) for p in pairs) + "\n", encoding="utf-8")
    encode, special = text_encoder(DATA / "hfl" / "chinese_electra_small" / "vocab.txt")  # as pretraining encodes

    def share(pack: bool) -> float:
        stream = TextStream([tmp_path / "bq.txt"], encode, special, 128, shuffle_buffer=100, pack_documents=pack)
        return float(np.mean([stream.next_batch(32)["input_mask"].mean() for _ in range(20)]))

    assert share(False) < 0.3  # pairs of ~25 characters in 128-token examples
    assert share(True) > 0.95
