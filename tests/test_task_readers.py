"""Task registry and data readers on small files in the real formats (tests/fixtures/tasks/)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from paddle_electra.errors import ConfigError, DataError
from paddle_electra.tasks import (
    Answer,
    ClassificationExample,
    QAExample,
    find_split_file,
    get_task,
    load_examples,
    load_labels,
    load_split,
    normalize_split,
    read_qa_json,
    read_tsv_examples,
    task_labels,
    task_names,
)

FIX = Path(__file__).parent / "fixtures" / "tasks"
BAD = FIX / "malformed"
LOGGER = "paddle_electra.tasks"


def squad_file(path: Path, qas: list[dict], context: str = "2010年引進的廣州快速公交運輸系統") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- registry
def test_registry_lists_the_seven_tasks() -> None:
    assert task_names() == ["chnsenticorp", "lcqmc", "bqcorpus", "xnli", "cmrc2018", "drcd", "cail2018"]
    assert get_task("LCQMC").name == "lcqmc"


def test_unknown_task_error_lists_known_names() -> None:
    with pytest.raises(ConfigError) as err:
        get_task("afqmc")
    assert "'afqmc'" in str(err.value)
    for name in task_names():
        assert name in str(err.value)


def test_seed_defaults() -> None:
    cls = get_task("xnli").defaults
    assert (cls.max_seq_length, cls.num_train_epochs, cls.train_batch_size, cls.eval_batch_size) == (
        128,
        3,
        32,
        32,
    )
    assert [cls.learning_rate(s) for s in ("small", "base", "large")] == [3e-4, 1e-4, 5e-5]
    assert [cls.layerwise_lr_decay(s) for s in ("small", "base", "large")] == [0.8, 0.8, 0.9]
    qa = get_task("cmrc2018").defaults.for_size("small")
    assert qa["max_seq_length"] == 512 and qa["num_train_epochs"] == 2 and qa["learning_rate"] == 3e-4
    assert (qa["doc_stride"], qa["max_query_length"], qa["n_best_size"], qa["max_answer_length"]) == (
        128,
        64,
        20,
        30,
    )
    assert get_task("drcd").defaults.max_seq_length == 512
    cail = get_task("cail2018").defaults
    assert [cail.learning_rate(s) for s in ("small", "base", "large")] == [5e-4, 3e-4, 1e-4]
    with pytest.raises(ConfigError, match="known sizes"):
        cls.learning_rate("huge")


def test_task_kinds_labels_and_layouts() -> None:
    assert get_task("xnli").labels == ("contradictory", "entailment", "neutral")
    assert get_task("chnsenticorp").labels == ("0", "1")
    assert get_task("cmrc2018").kind == "qa" and get_task("cmrc2018").metric == "em_f1"
    assert get_task("cail2018").labels is None and get_task("cail2018").num_labels is None
    xnli = get_task("xnli")
    assert (xnli.columns_for("train").text_a, xnli.columns_for("train").label) == (0, 2)
    dev = xnli.columns_for("dev")
    assert (dev.text_a, dev.text_b, dev.label) == (6, 7, 1)
    assert xnli.columns_for("test") == dev  # test is the seed's eval split
    chn = get_task("chnsenticorp").columns_for("train")
    assert (chn.text_a, chn.text_b, chn.label) == (1, None, 0)


def test_split_names() -> None:
    assert normalize_split("test") == "eval"
    with pytest.raises(ConfigError, match="train, dev, eval"):
        normalize_split("validation")


# ------------------------------------------------------------------------------------------- tsv readers
def test_chnsenticorp_single_sentence_and_test_alias(caplog: pytest.LogCaptureFixture) -> None:
    train = load_examples("chnsenticorp", FIX, "train")
    assert train[0] == ClassificationExample("train-0", "房间很干净，服务也好。", None, "1")
    assert [e.label for e in train] == ["1", "0", "1"]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = load_split("chnsenticorp", FIX, "eval")
    assert data.path.name == "test.tsv"
    assert f"using {data.path}" in caplog.text
    assert [e.text_a for e in data.examples] == ["性价比高", "空调坏了"]


def test_lcqmc_crlf_and_blank_line_counted(caplog: pytest.LogCaptureFixture) -> None:
    path = FIX / "finetuning_data/lcqmc/train.tsv"
    assert b"\r\n" in path.read_bytes()  # guards against the fixture being normalized by git
    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = load_split("lcqmc", FIX, "train")
    assert [e.label for e in data.examples] == ["1", "1", "0"]
    assert not any("\r" in (e.text_a + (e.text_b or "") + e.label) for e in data.examples)
    assert data.examples[2].guid == "train-3"  # the seed's example id counts the blank line
    assert data.report.skipped == {"header": 1, "blank": 1}
    assert "blank 1 (line 4)" in caplog.text


def test_bqcorpus_bom_file() -> None:
    path = FIX / "finetuning_data/bqcorpus/train.tsv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    examples = load_examples("bqcorpus", FIX, "train")
    assert examples[0].text_a == "用微信都6年，微信没有微粒贷功能" and examples[0].label == "0"
    assert len(examples) == 3


def test_bom_on_a_data_line_is_stripped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # No header in this file: the header is recognised by content, so the first line (behind a BOM) is data
    # and kept -- dropping it is how LCQMC's test lost one of its 12500 rows.
    path = tmp_path / "train.tsv"
    path.write_bytes(b"\xef\xbb\xbf1\t\xe5\xa5\xbd\n0\t\xe5\xb7\xae\n")
    examples, report = read_tsv_examples(path, "chnsenticorp", "train")
    assert [e.text_a for e in examples] == ["好", "差"] and not report.skipped


def test_xnli_train_alias_and_dev_layout() -> None:
    train = load_split("xnli", FIX, "train")
    assert [e.label for e in train.examples] == ["neutral", "contradictory", "entailment", "contradictory"]
    assert train.report.warnings["label 'contradiction' read as 'contradictory'"] == 1
    dev = load_examples("xnli", FIX, "dev")
    assert (
        len((FIX / "finetuning_data/xnli/dev.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t"))
        == 19
    )
    assert dev[0].text_a == "他说，妈妈，我回来了。"
    assert dev[0].text_b == "校车把他放下后，他立即给他妈妈打了电话。"
    assert [e.label for e in dev] == ["neutral", "contradictory", "entailment"]


def test_xnli_other_languages_are_kept_but_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        data = load_split("xnli", FIX, "eval")
    assert len(data.examples) == 2  # the seed does not filter by language
    assert "'en': 1" in caplog.text and "zh-only" in caplog.text


# ------------------------------------------------------------------------------------------- malformed tsv
def test_wrong_column_count_names_file_and_line() -> None:
    with pytest.raises(DataError) as err:
        load_examples("lcqmc", BAD, "train")
    assert str(err.value) == (
        f"{BAD / 'lcqmc/train.tsv'}:5: expected 3 tab-separated columns (text_a, text_b, label), got 2"
    )


def test_xnli_dev_needs_the_xnli_layout() -> None:
    with pytest.raises(
        DataError, match=r"xnli/dev\.tsv:2: expected 19 tab-separated columns .* got 5"
    ):
        load_examples("xnli", BAD, "dev")


def test_unknown_label() -> None:
    with pytest.raises(DataError) as err:
        load_examples("chnsenticorp", BAD, "train")
    assert str(err.value) == f"{BAD / 'chnsenticorp/train.tsv'}:3: label '2' not in ['0', '1']"
    with pytest.raises(DataError, match=r"xnli/train\.tsv:3: label 'unknown' not in \['contradictory'"):
        load_examples("xnli", BAD, "train")


def test_non_utf8_names_the_line() -> None:
    with pytest.raises(DataError, match=r"bqcorpus/train\.tsv:3: not valid UTF-8"):
        load_examples("bqcorpus", BAD, "train")


def test_empty_text() -> None:
    with pytest.raises(DataError, match=r"chnsenticorp/dev\.tsv:3: empty text_a \(column 2\)"):
        load_examples("chnsenticorp", BAD, "dev")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "lcqmc").mkdir()
    (tmp_path / "lcqmc/dev.tsv").write_bytes(b"")
    with pytest.raises(DataError, match=r"lcqmc/dev\.tsv: no examples"):
        load_examples("lcqmc", tmp_path, "dev")


# ------------------------------------------------------------------------------------------- file lookup
def test_missing_file_lists_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        find_split_file("lcqmc", tmp_path, "eval")
    msg = str(err.value)
    for p in (
        "finetuning_data/lcqmc/eval.tsv",
        "finetuning_data/lcqmc/test.tsv",
        "lcqmc/eval.tsv",
        "lcqmc/test.tsv",
    ):
        assert str(tmp_path / p) in msg


def test_task_dir_layout_and_ambiguity_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("eval.tsv", "test.tsv"):
        (tmp_path / "lcqmc").mkdir(exist_ok=True)
        (tmp_path / "lcqmc" / name).write_text("a\tb\tlabel\n一\t二\t1\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        path = find_split_file("lcqmc", tmp_path, "test")
    assert path == tmp_path / "lcqmc/eval.tsv"
    assert f"also found {tmp_path / 'lcqmc/test.tsv'}, ignored" in caplog.text


# ------------------------------------------------------------------------------------------- cail2018
def test_cail_jsonl_single_label_and_skips_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    labels_path = tmp_path / "out/cail2018_labels.json"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        train = load_split("cail2018", FIX, "train", labels_path=labels_path)
    assert [e.label for e in train.examples] == ["盗窃", "危险驾驶", "诈骗"]
    assert train.examples[0].text_a.startswith("被告人张某在超市内窃取商品")
    assert train.report.skipped == {"multi_label": 1, "blank": 1, "no_accusation": 1}
    assert "multi_label 1" in caplog.text
    assert train.labels == ("危险驾驶", "盗窃", "诈骗")  # sorted set of the train labels
    assert load_labels(labels_path, "cail2018") == train.labels
    dev = load_split("cail2018", FIX, "dev", labels_path=labels_path)
    assert dev.labels == train.labels and [e.label for e in dev.examples] == ["盗窃", "危险驾驶"]
    assert len(load_examples("cail2018", FIX, "eval")) == 1  # no labels file: derived from train again


def test_cail_tsv_in_task_dir_layout() -> None:
    assert task_labels("cail2018", FIX / "cail_tsv") == ("盗窃", "诈骗")
    dev = load_examples("cail2018", FIX / "cail_tsv", "dev")
    assert dev == [ClassificationExample("dev-0", "冒充客服骗取钱款", None, "诈骗")]


def test_cail_unknown_dev_label_and_bad_json(tmp_path: Path) -> None:
    labels_path = tmp_path / "labels.json"
    labels_path.write_text(json.dumps({"task": "cail2018", "labels": ["盗窃", "诈骗"]}), encoding="utf-8")
    with pytest.raises(DataError, match=r"cail2018/dev\.json:1: label '抢劫' not in \['盗窃', '诈骗'\]"):
        load_examples("cail2018", BAD, "dev", labels_path=labels_path)
    with pytest.raises(DataError, match=r"cail2018/train\.json:2: invalid JSON at column \d+"):
        load_examples("cail2018", BAD, "train")


def test_cail_saved_labels_must_match_train(tmp_path: Path) -> None:
    labels_path = tmp_path / "labels.json"
    labels_path.write_text(json.dumps({"task": "cail2018", "labels": ["盗窃"]}), encoding="utf-8")
    with pytest.raises(DataError, match="differs from the labels of"):
        load_split("cail2018", FIX, "train", labels_path=labels_path)


def test_cail_record_shape_and_bom(tmp_path: Path) -> None:
    d = tmp_path / "cail2018"
    d.mkdir()
    rec = {"fact": "事实", "meta": {"accusation": ["盗窃"]}}
    (d / "train.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(rec, ensure_ascii=False).encode() + b"\r\n")
    assert load_examples("cail2018", tmp_path, "train")[0].label == "盗窃"
    (d / "train.json").write_text('{"fact": "事实", "meta": {"charges": []}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.json:1: expected a CAIL2018 record"):
        load_examples("cail2018", tmp_path, "train")


# ------------------------------------------------------------------------------------------- QA readers
def test_cmrc2018_train_uses_first_answer_dev_keeps_all() -> None:
    train = load_examples("cmrc2018", FIX, "train")
    assert train[0].qid == "TRAIN_0_QUERY_0"
    assert train[0].answers == (Answer("光荣和ω-force", 9),)  # answers[0] only, as the seed trains
    assert train[0].context[9 : 9 + len("光荣和ω-force")] == "光荣和ω-force"
    dev = load_examples("cmrc2018", FIX, "dev")
    assert [a.text for a in dev[0].answers] == ["第三续作", "第三", "正统第三续作"]


def test_drcd_traditional_chinese() -> None:
    (ex,) = load_examples("drcd", FIX, "train")
    assert ex.answers[0].text == "100萬人次" and ex.context[ex.answers[0].start :].startswith("100萬人次")


def test_qa_bad_json_position() -> None:
    with pytest.raises(DataError, match=r"cmrc2018/train\.json:3: invalid JSON at column 1 \(char \d+\)"):
        load_examples("cmrc2018", BAD, "train")


def test_qa_duplicate_ids() -> None:
    with pytest.raises(DataError) as err:
        load_examples("cmrc2018", BAD, "dev")
    msg = str(err.value)
    assert "cmrc2018/dev.json:" in msg and "qas[1] (id 'DUP_1'): duplicate id, first used at" in msg
    line = int(msg.split("dev.json:")[1].split(":")[0])
    text = (BAD / "cmrc2018/dev.json").read_text(encoding="utf-8").splitlines()
    assert '"DUP_1"' in text[line - 1] and "问二" in text[line]  # the line of the second occurrence


def test_qa_answer_not_in_context_is_an_error_or_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DataError, match=r"drcd/train\.json:\d+: .*'200萬人次' not found in the context"):
        load_examples("drcd", BAD, "train")
    path = BAD / "drcd/train.json"
    with pytest.raises(DataError, match="no examples"):  # the only question is skipped, and counted
        read_qa_json(path, "train", on_bad_answer="skip")
    assert "question skipped" in caplog.text


def test_qa_answer_elsewhere_warns_and_keeps_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = squad_file(tmp_path / "train.json", [
        {"id": "q1", "question": "哪一年？", "answers": [{"text": "2010年", "answer_start": 3}]},
        {"id": "q2", "question": "哪裡？", "answers": [{"text": "廣州", "answer_start": 8}]},
    ])  # fmt: skip
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        examples, report = read_qa_json(path, "train")
    assert examples[0].answers == (Answer("2010年", 3),)  # not silently moved to 0
    assert report.warnings["answer_not_at_start (kept as given)"] == 1
    assert "not at answer_start 3 but occurs at 0" in caplog.text
    # dev: offsets are not used by the metric → counted, never an error
    _, dev_report = read_qa_json(BAD / "drcd/dev.json", "dev")
    assert dev_report.warnings["answer_start mismatches (not used by the metric)"] == 1


def test_qa_structure_errors(tmp_path: Path) -> None:
    # an empty question (CMRC 2018 trial has two) is kept for scoring, as the official scorer counts it, and
    # skipped for training; neither aborts the file
    answer = [{"text": "廣州", "answer_start": 6}]
    p = squad_file(tmp_path / "a.json", [{"id": "q1", "question": " ", "answers": answer},
                                         {"id": "q2", "question": "问", "answers": answer}])
    examples, report = read_qa_json(p, "dev")
    assert [e.qid for e in examples] == ["q1", "q2"]
    assert report.warnings["empty questions (kept: the official scorer counts them)"] == 1
    examples, report = read_qa_json(p, "train")
    assert [e.qid for e in examples] == ["q2"] and report.skipped["empty question"] == 1
    p = squad_file(tmp_path / "b.json", [{"id": "q1", "question": "问", "answers": []}])
    with pytest.raises(DataError, match="no answers"):
        read_qa_json(p, "train")
    examples, report = read_qa_json(p, "eval")  # an unlabeled test set is fine
    assert examples[0].answers == () and report.warnings["questions without answers"] == 1
    p = squad_file(tmp_path / "c.json", [{"question": "问", "answers": []}])
    with pytest.raises(DataError, match=r"qas\[0\]: missing 'id'"):
        read_qa_json(p, "dev")
    p = tmp_path / "d.json"
    p.write_bytes(b'{"data": [\n{"paragraphs": [{"context": "\xb9\xe3", "qas": []}]}]}')
    with pytest.raises(DataError, match=r"d\.json:2: not valid UTF-8"):
        read_qa_json(p, "dev")
    p = squad_file(tmp_path / "e.json", [{"id": "q1", "question": "问", "answers": [{"text": "x"}]}])
    with pytest.raises(DataError, match="'answer_start' should be int"):
        read_qa_json(p, "train")


def test_qa_bom_json(tmp_path: Path) -> None:
    p = squad_file(
        tmp_path / "f.json",
        [{"id": "q1", "question": "问", "answers": [{"text": "廣州", "answer_start": 8}]}],
    )
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    (ex,) = read_qa_json(p, "train")[0]
    assert ex.answers == (Answer("廣州", 8),)


# ------------------------------------------------------------------------------------------- data classes
def test_examples_are_frozen_and_hashable() -> None:
    ex = QAExample("q", "问", "上下文", [Answer("上", 0)])  # a list is accepted and stored as a tuple
    assert ex.answers == (Answer("上", 0),) and hash(ex)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.qid = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClassificationExample("g", "a", None, "0").label = "1"  # type: ignore[misc]


# ------------------------------------------------------------------- quirks of the real released files
RELEASED = Path(__file__).parent / "fixtures" / "tasks" / "released"  # tests/fixtures/make_release_quirk_fixtures.py


def test_released_lcqmc_has_no_header_and_loses_no_row() -> None:
    dev, test = load_split("lcqmc", RELEASED, "dev"), load_split("lcqmc", RELEASED, "eval")
    assert [e.label for e in dev.examples] == ["1", "0"] and not dev.report.skipped
    assert test.path.name == "test.txt" and len(test.examples) == 2


def test_released_bq_corpus_csv_with_bom_crlf_and_quotes() -> None:
    data = load_split("bqcorpus", RELEASED, "dev")
    assert [(e.text_a, e.text_b, e.label) for e in data.examples] == [
        ("不要借了我是试试看能否操作的", "借款审核期间能否取消借款", "0"),
        ('还款,额度"没有"恢复', "迟还款几天会影响信用", "1")]
    assert data.report.skipped["header"] == 1


def test_released_xnli_named_columns_and_three_column_train() -> None:
    dev, train = load_split("xnli", RELEASED, "dev"), load_split("xnli", RELEASED, "train")
    assert [(e.text_b[:4], e.label) for e in dev.examples] == [("校车把他", "neutral"), ("他一句话", "contradictory")]
    assert [e.label for e in train.examples] == ["neutral", "contradictory"]


def test_released_cmrc_empty_question_and_off_by_one_start() -> None:
    data = load_split("cmrc2018", RELEASED, "train")
    (example,) = data.examples
    answer = example.answers[0]
    assert example.context[answer.start:answer.start + len(answer.text)] == answer.text == "光荣和ω-force"
    assert data.report.skipped["empty question"] == 1


def test_released_cail_gb18030_multi_charge_and_brackets() -> None:
    data = load_split("cail2018", RELEASED, "train")
    assert data.labels == ("盗窃", "故意伤害", "走私、贩卖、运输、制造毒品")  # accu.txt, in its order
    assert [e.label for e in data.examples] == ["盗窃", "走私、贩卖、运输、制造毒品"]
    assert data.report.skipped["multi_label"] == 1
    assert data.report.warnings["read as GB18030 (not UTF-8)"] == 1
