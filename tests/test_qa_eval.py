"""The CMRC 2018/DRCD evaluator against hand-computed EM/F1 (arithmetic in the comments).

Reminder of the official rules: text is lower-cased and stripped; each CJK character (U+4E00..U+9FA5) is one
segment, other runs go through nltk-style word tokenization; F1 punctuation is deleted before segmenting;
F1 = 2PR/(P+R) with P = LCS/len(pred), R = LCS/len(ref), LCS = longest common contiguous run of segments.
"""

from __future__ import annotations

import json
import random

import pytest

from paddle_electra.errors import DataError
from paddle_electra.metrics import qa_eval
from paddle_electra.metrics.qa_eval import (
    calc_em_score,
    calc_f1_score,
    evaluate,
    find_lcs,
    main,
    mixed_segmentation,
    remove_punctuation,
    score,
    word_tokenize,
)


def dataset(*questions: tuple[str, list[str]]) -> dict:
    """A SQuAD-style dataset with one paragraph holding (id, reference answers) questions."""
    qas = [{"id": qid, "question": "问", "answers": [{"text": a, "answer_start": 0} for a in refs]}
           for qid, refs in questions]  # fmt: skip
    return {"data": [{"paragraphs": [{"context": "上下文", "qas": qas}]}]}


# ------------------------------------------------------------------------------------------- segmentation
def test_mixed_segmentation_splits_cjk_chars_and_tokenizes_other_runs() -> None:
    assert mixed_segmentation("苹果iPhone 6s手机") == ["苹", "果", "iphone", "6s", "手", "机"]
    # with rm_punc the listed punctuation is deleted and does NOT break an English run
    assert mixed_segmentation("COVID-19，疫情", rm_punc=True) == ["covid19", "疫", "情"]
    # without rm_punc each listed punctuation mark is its own segment
    assert mixed_segmentation("北京，大学") == ["北", "京", "，", "大", "学"]


def test_ellipsis_quirk_is_kept() -> None:
    # The official list has '……' (two chars); `char in list` never matches '…', so it is neither removed nor
    # a segment of its own: it joins the non-CJK run.
    assert remove_punctuation("好…") == "好…"
    assert calc_em_score(["好"], "好…") == 0


def test_remove_punctuation_official_list_only() -> None:
    assert remove_punctuation(" 《北京》：大学。 ") == "北京大学"
    # ASCII '.', ',' and '?' are NOT in the official list
    assert remove_punctuation("Mr. Smith, ok?") == "mr. smith, ok?"


# ------------------------------------------------------------------------------------------- nltk-like tokens
@pytest.mark.parametrize(
    ("text", "tokens"),
    [  # expected tokens produced by nltk 3.10.4 NLTKWordTokenizer
        ("iphone 6s", ["iphone", "6s"]),
        ("it's 3.5% of gdp", ["it", "'s", "3.5", "%", "of", "gdp"]),
        ("don't stop", ["do", "n't", "stop"]),
        ('the "best" one', ["the", "``", "best", "''", "one"]),
        ("(a) b, c: d; e!", ["(", "a", ")", "b", ",", "c", ":", "d", ";", "e", "!"]),
        ("$3.88 (roughly 3,36 euros)", ["$", "3.88", "(", "roughly", "3,36", "euros", ")"]),
        ("wait... what?", ["wait", "...", "what", "?"]),
        ("cannot go", ["can", "not", "go"]),
        ("a--b", ["a", "--", "b"]),
        ("1,000,000", ["1,000,000"]),
        ("he said 'hi' to me", ["he", "said", "'", "hi", "'", "to", "me"]),
        ("x & y @ z #1", ["x", "&", "y", "@", "z", "#", "1"]),
        ("u.s.", ["u.s", "."]),
        ("end.", ["end", "."]),
    ],
)
def test_word_tokenize_matches_nltk(text: str, tokens: list[str]) -> None:
    assert word_tokenize(text) == tokens


def test_word_tokenize_sentence_split_approximation() -> None:
    # Punkt would end a sentence after "york." (ordinary word), not after "mr." (abbreviation) or "2008."
    assert word_tokenize("new york. please") == ["new", "york", ".", "please"]
    assert word_tokenize("mr. smith") == ["mr.", "smith"]
    assert word_tokenize("in 2008. then") == ["in", "2008.", "then"]


def test_treebank_rules_match_real_nltk_on_random_strings() -> None:
    """Differential check when nltk happens to be installed (it is not a dependency)."""
    nltk_tok = pytest.importorskip("nltk.tokenize").NLTKWordTokenizer()
    alphabet = list("abz09 .,:;!?'\"()[]{}<>-–$%&@#*`‘’“”«»/~+=_^") + [
        "n't",
        "can",
        "not",
        "...",
        "--",
        "3.5",
    ]
    rng = random.Random(1234)
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        assert qa_eval._treebank_tokenize(s) == nltk_tok.tokenize(s), s


# ------------------------------------------------------------------------------------------- LCS / F1 / EM
def test_find_lcs_is_contiguous_substring() -> None:
    # common subsequence a,c,d has length 3, but the longest common *substring* is c,d
    assert find_lcs(list("abcd"), list("axcd")) == (["c", "d"], 2)
    assert find_lcs([], list("ab")) == ([], 0)


def test_exact_match_after_punctuation_removal() -> None:
    # 北京大学 vs 北京大学。 → '。' removed → equal → EM 1; segments equal → F1 1
    assert calc_em_score(["北京大学。"], "北京大学") == 1
    assert calc_f1_score(["北京大学。"], "北京大学") == 1.0


def test_partial_prediction_f1() -> None:
    # pred 北京 (2 segs) vs ref 北京大学 (4 segs): LCS 2, P = 2/2 = 1, R = 2/4 = 0.5, F1 = 2*0.5/1.5 = 0.667
    assert calc_em_score(["北京大学"], "北京") == 0
    assert calc_f1_score(["北京大学"], "北京") == pytest.approx(2 / 3)


def test_english_mixed_f1() -> None:
    # ref 苹果iPhone 6s手机 → [苹, 果, iphone, 6s, 手, 机] (6); pred "iPhone 6s" → [iphone, 6s] (2)
    # LCS 2, P = 1, R = 2/6, F1 = 2*(1/3)/(4/3) = 0.5
    assert calc_f1_score(["苹果iPhone 6s手机"], "iPhone 6s") == pytest.approx(0.5)
    # "Mr. Smith" → [mr., smith]; "mr smith" → [mr, smith]: LCS 1, P = R = 1/2, F1 = 0.5; '.' is kept → EM 0
    assert calc_f1_score(["Mr. Smith"], "mr smith") == pytest.approx(0.5)
    assert calc_em_score(["Mr. Smith"], "mr smith") == 0
    # hyphen is in the official list: covid-19 ≡ COVID19 for EM
    assert calc_em_score(["covid-19"], "COVID19") == 1


def test_max_over_references() -> None:
    refs = ["第三续作", "第三", "正统第三续作"]
    # pred 第三续 (3 segs):
    #   vs 第三续作 (4): LCS 3, P 1,   R 3/4 → F1 = 2*0.75/1.75 = 0.857
    #   vs 第三     (2): LCS 2, P 2/3, R 1   → F1 = 2*(2/3)/(5/3) = 0.8
    #   vs 正统第三续作 (6): LCS 3, P 1, R 1/2 → F1 = 0.667
    assert calc_f1_score(refs, "第三续") == pytest.approx(6 / 7)
    assert calc_em_score(refs, "第三") == 1  # matches the second reference


def test_no_overlap_scores_zero() -> None:
    assert calc_f1_score(["上海"], "北京") == 0.0
    assert calc_f1_score(["上海"], "") == 0.0  # empty prediction: LCS 0


# ------------------------------------------------------------------------------------------- evaluate / SKIP
def test_evaluate_fields_rounding_and_skip(caplog: pytest.LogCaptureFixture) -> None:
    data = dataset(("q1", ["北京大学。"]), ("q2", ["北京大学"]), ("q3", ["上海"]))
    preds = {"q1": "北京大学", "q2": "北京"}  # q3 missing
    # q1: EM 1, F1 1; q2: EM 0, F1 2/3; q3: skipped → 0, but still in TOTAL
    # F1 = 100 * (1 + 2/3) / 3 = 55.5556; EM = 100 * 1/3 = 33.3333; AVERAGE = (33.3333 + 55.5556)/2 = 44.4444
    result = evaluate(data, preds)
    assert result == {"AVERAGE": "44.444", "F1": "55.556", "EM": "33.333", "TOTAL": 3, "SKIP": 1}
    assert list(result) == ["AVERAGE", "F1", "EM", "TOTAL", "SKIP"]
    assert "Unanswered question: q3" in caplog.text


def test_question_ids_are_stripped_like_the_official_script() -> None:
    data = dataset((" q1 ", ["北京"]))
    assert evaluate(data, {"q1": "北京"})["EM"] == "100.000"


def test_score_unrounded() -> None:
    s = score(dataset(("q1", ["北京大学"])), {"q1": "北京"})
    assert s.f1 == pytest.approx(200 / 3) and s.em == 0 and s.total == 1 and s.skip == 0
    assert s.average == pytest.approx(100 / 3)


def test_errors_where_the_official_script_crashes() -> None:
    with pytest.raises(DataError, match="no reference answers"):
        evaluate(dataset(("q1", [])), {"q1": "x"})
    with pytest.raises(DataError, match="no questions"):
        evaluate({"data": []}, {})
    with pytest.raises(DataError, match="SQuAD-style"):
        evaluate({"articles": []}, {})


# ------------------------------------------------------------------------------------------- main()
def test_main_prints_official_json_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    data_file = tmp_path / "dev.json"
    pred_file = tmp_path / "preds.json"
    data_file.write_bytes(b"\xef\xbb\xbf" + json.dumps(dataset(("a", ["北京"]), ("b", ["上海"]))).encode())
    pred_file.write_text(json.dumps({"a": "北京"}, ensure_ascii=False), encoding="utf-8")
    assert main([str(data_file), str(pred_file)]) == 0
    out, err = capsys.readouterr()
    # a: EM 1, F1 1; b: skipped → EM = F1 = 50, AVERAGE 50
    assert out == (
        '{"AVERAGE": "50.000", "F1": "50.000", "EM": "50.000", "TOTAL": 2, "SKIP": 1, '
        f'"FILE": {json.dumps(str(pred_file))}}}\n'
    )
    assert err == "Unanswered question: b\n"


def test_main_reports_bad_json_with_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    data_file = tmp_path / "dev.json"
    data_file.write_text('{"data": [\n,]}', encoding="utf-8")
    pred_file = tmp_path / "preds.json"
    pred_file.write_text("{}", encoding="utf-8")
    assert main([str(data_file), str(pred_file)]) == 1
    err = capsys.readouterr().err
    assert "dev.json:2: invalid JSON" in err
