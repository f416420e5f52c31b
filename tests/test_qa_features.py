"""QA featurization (sliding windows, labels) and post-processing (span → exact context text), seed-faithful."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.metrics.qa_eval import evaluate
from paddle_electra.tasks.qa_features import (
    QAFeature,
    check_is_max_context,
    collate_qa,
    featurize_qa,
    improve_answer_span,
    postprocess_qa,
    split_whitespace_words,
    write_predictions,
)
from paddle_electra.tasks.readers import Answer, QAExample, load_split
from paddle_electra.tokenizer import load_tokenizer

FIXTURES = Path(__file__).parent / "fixtures"
TASKS = FIXTURES / "tasks"

# One space (two whitespace words); 名 鑫 and the Latin words are not in the tiny vocab, so they become [UNK].
CTX = "北京大学是中国有名的大学。他说：“iPhone 6s很好用。”小鑫喜欢在北京吃饭，听音乐。"
LONG = "今天天气很好。" * 30 + "我喜欢听音乐。"


def _ex(qid: str, question: str, context: str, text: str, nth: int = 0) -> QAExample:
    start = -1
    for _ in range(nth + 1):
        start = context.index(text, start + 1)
    return QAExample(qid, question, context, (Answer(text, start),))


EXAMPLES = [
    _ex("q1", "哪个大学有名？", CTX, "北京大学"),
    _ex("q2", "他说什么很好用？", CTX, "iPhone 6s"),
    _ex("q3", "谁喜欢吃饭？", CTX, "小鑫"),
    _ex("q4", "在哪里吃饭？", CTX, "北京", nth=1),
    _ex("q5", "这是什么大学？", CTX, "大学", nth=1),  # "大学" occurs twice in the same whitespace word
    _ex("q6", "我喜欢听什么？", LONG, "音乐"),
    # full-width Latin/digits, an ideographic space inside a whitespace word, a zero-width space, Σ
    _ex("q7", "发布了什么？", "苹果发布了ＩＰｈｏｎｅ\u3000６ｓ手机，\u200b售价ΣΑΣ五千。", "ＩＰｈｏｎｅ\u3000６ｓ"),
]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(FIXTURES / "tf_tiny")


def _gold_span(feature: QAFeature, answer: Answer) -> tuple[int, int] | None:
    """Token positions covering the answer's characters in this window, if the whole answer is inside."""
    end = answer.start + len(answer.text)
    inside = [p for p, (s, e) in feature.token_to_char.items() if s < end and e > answer.start]
    chars = [c for p in inside for c in range(*feature.token_to_char[p])]
    if not inside or min(chars) > answer.start or max(chars) < end - 1:
        return None
    return min(inside), max(inside)


# ----------------------------------------------------------------------------------------------------
# seed helpers
# ----------------------------------------------------------------------------------------------------
def test_seed_helpers():
    # the seed's docstring examples
    spans = [(0, 5), (3, 5), (6, 5)]  # "the man went to the | to the store and bought | and bought a gallon of"
    assert check_is_max_context(spans, 2, 7) and not check_is_max_context(spans, 1, 7)
    doc = ["(", "1895", "-", "1943", ")", "."]
    assert improve_answer_span(doc, 0, 5, ["1895"]) == (1, 1)
    assert improve_answer_span(doc, 0, 5, ["japan"]) == (0, 5)
    assert improve_answer_span(list("北京大学北京"), 0, 5, ["北", "京"]) == (0, 1)  # first occurrence
    words, char_to_word = split_whitespace_words(" ab\u3000c  d\u202fe")
    assert words == [(1, 5), (7, 8), (9, 10)]  # U+3000 does not split a word, U+202F does
    assert char_to_word == [-1, 0, 0, 0, 0, 0, 0, 1, 1, 2]


def test_token_char_offsets_fuzz(tmp_path):
    """Random mixed text: tokens equal ``tokenize`` word by word and each non-[UNK] piece is its characters."""
    from paddlenlp.transformers import ElectraTokenizer

    from paddle_electra.tasks import qa_features as qf

    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"北京大学是中国的abcexyz0123,.-(“，。i",
        "σ",
        "##a",
        "##b",
        "##c",
        "##1",
        "##e",
        "ab",
        "##yz",
        "##σ",
        "##i",
        "ss",
        "##ss",
    ]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = ElectraTokenizer(vocab_file=str(tmp_path / "vocab.txt"), do_lower_case=True)
    aligner = qf._WordAligner(tokenizer)
    alphabet = [
        *"北京大学是中国有名臺灣萬abcXYZéÉñ0123,.-(“，。！",
        "\u3000",
        "\xa0",
        "\u200b",
        "\x00",
        "\ufffd",
        "\u0301",
        "Σ",
        "ς",
        "İ",
        "ﬁ",
        "😀",
        "Ａ",
        "ß",
        "Å",
        "ǅ",
        " ",
        "\n",
        "\t",
        "\u202f",
        "[SEP]",
        "[UNK]",
    ]
    rng = np.random.default_rng(1)
    for _ in range(400):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(1, 25))))
        doc = qf._tokenize_context(text, aligner)
        assert doc.n_fallback_words == 0, repr(text)
        assert doc.tokens == [t for s, e in doc.words for t in tokenizer.tokenize(text[s:e])]
        prev = 0
        for token, (s, e) in zip(doc.tokens, doc.tok_to_char):
            assert prev <= s < e
            prev = e
            if token != "[UNK]":
                chars = (c for c in text[s:e] if not qf._is_bert_removed(c) and not qf._is_bert_whitespace(c))
                norm = "".join(aligner._normalize(c) for c in chars)
                assert qf._fold(norm) == qf._fold(token.removeprefix("##")), (repr(text), token)


# ----------------------------------------------------------------------------------------------------
# windows and layout
# ----------------------------------------------------------------------------------------------------
def test_windows_overlap_and_max_context(tok):
    example = _ex("w", "今天天气好吗？", LONG, "音乐")
    feats = featurize_qa([example], tok, max_seq_length=48, doc_stride=16)
    query = tok.tokenize(example.question)
    n_doc = len(tok.tokenize(LONG))
    assert len(feats) > 3
    starts, owners = [], {}
    for k, f in enumerate(feats):
        assert (f.example_index, f.doc_span_index, f.qid) == (0, k, "w")
        q = len(query)
        assert f.tokens[0] == "[CLS]" and f.tokens[1 : q + 1] == query and f.tokens[q + 1] == "[SEP]"
        assert f.tokens[-1] == "[SEP]" and len(f.tokens) <= 48
        assert f.token_type_ids == [0] * (q + 2) + [1] * (len(f.tokens) - q - 2)
        assert f.input_ids == tok.convert_tokens_to_ids(f.tokens)
        assert sorted(f.token_to_orig_map) == list(range(q + 2, len(f.tokens) - 1))
        assert set(f.token_is_max_context) == set(f.token_to_orig_map) == set(f.token_to_char)
        positions = [f.token_to_char[p][0] for p in sorted(f.token_to_char)]  # one char per token here
        assert positions == list(range(positions[0], positions[0] + len(positions)))
        starts.append(positions[0])
        for p, is_max in f.token_is_max_context.items():
            if is_max:
                owners.setdefault(f.token_to_char[p][0], []).append(k)
        assert all(LONG[s:e] == f.tokens[p] or f.tokens[p] == "[UNK]" for p, (s, e) in f.token_to_char.items())
    assert starts == [16 * k for k in range(len(feats))]  # stride 16, windows of 48 - len(query) - 3 > 16
    assert sorted(owners) == list(range(n_doc)) and all(len(v) == 1 for v in owners.values())
    assert len(feats[-1].token_to_char) <= 48 - len(query) - 3
    assert len({f.unique_id for f in feats}) == len(feats)


def test_query_truncated(tok):
    example = _ex("q", "今天天气很好吗？我想去北京。", "今天天气很好。", "很好")
    (f,) = featurize_qa([example], tok, max_query_length=4)
    assert f.tokens[:6] == ["[CLS]", *tok.tokenize(example.question)[:4], "[SEP]"]
    assert f.token_type_ids[:6] == [0] * 6 and f.token_type_ids[6] == 1


def test_bad_settings(tok):
    with pytest.raises(ValueError, match="doc_stride"):
        featurize_qa(EXAMPLES[:1], tok, doc_stride=0)
    with pytest.raises(ValueError, match="no room"):
        featurize_qa(EXAMPLES[:1], tok, max_seq_length=8, max_query_length=5)


# ----------------------------------------------------------------------------------------------------
# training labels
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["seed", "offsets"])
def test_training_positions(tok, mode):
    feats = featurize_qa(EXAMPLES, tok, max_seq_length=40, doc_stride=8, is_training=True, answer_span=mode)
    # The seed compares the answer with str.split() whitespace (U+3000 splits) against words split on
    # " \t\r\n" only (U+3000 does not), so it drops q7 ("Could not find answer"); offsets mode keeps it.
    kept = set(range(len(EXAMPLES))) - ({6} if mode == "seed" else set())
    assert {f.example_index for f in feats} == kept
    for i, example in enumerate(EXAMPLES):
        if i not in kept:
            continue
        answer = example.answers[0]
        mine = [f for f in feats if f.example_index == i]
        inside = [f for f in mine if f.start_position != 0]
        outside = [f for f in mine if f.start_position == 0]
        assert inside, example.qid
        assert all(f.end_position == 0 and not f.is_impossible for f in outside)
        for f in inside:
            s, e = f.start_position, f.end_position
            assert s in f.token_to_orig_map and e in f.token_to_orig_map and s <= e
            assert f.tokens[s : e + 1] == tok.tokenize(answer.text)
            text = example.context[f.token_to_char[s][0] : f.token_to_char[e][1]]
            assert text == answer.text
            where = f.token_to_char[s][0]
            if example.qid == "q5" and mode == "seed":
                assert where == CTX.index("大学")  # the seed labels the first occurrence in the word
            else:
                assert where == answer.start
        if example.qid == "q6":  # the answer is at the end of a long context: early windows are 0/0
            assert outside and mine[0].start_position == 0


def test_training_skips_what_the_seed_skips(tok, caplog):
    bad = QAExample("bad", "听什么？", CTX, (Answer("音乐", 0),))  # text is not in the word at answer_start
    past = QAExample("past", "听什么？", "音乐", (Answer("音乐", 1),))
    with caplog.at_level(logging.WARNING, logger="paddle_electra.tasks"):
        feats = featurize_qa([bad, EXAMPLES[0], past], tok, is_training=True)
    assert {f.example_index for f in feats} == {1}
    assert "2 of 3 training examples skipped" in caplog.text


def test_collate(tok):
    feats = featurize_qa(EXAMPLES, tok, max_seq_length=40, doc_stride=8, is_training=True)
    batch = collate_qa(feats[:5], is_training=True)
    assert set(batch) == {
        "input_ids",
        "token_type_ids",
        "attention_mask",
        "start_positions",
        "end_positions",
        "is_impossible",
    }
    longest = max(len(f.input_ids) for f in feats[:5])
    assert batch["input_ids"].shape == (5, longest)
    assert all(v.dtype == np.int64 for v in batch.values())
    for row, f in enumerate(feats[:5]):
        n = len(f.input_ids)
        assert batch["input_ids"][row, :n].tolist() == f.input_ids and not batch["input_ids"][row, n:].any()
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (longest - n)
        assert batch["token_type_ids"][row, :n].tolist() == f.token_type_ids
        assert batch["start_positions"][row] == f.start_position
    eval_batch = collate_qa(featurize_qa(EXAMPLES, tok), is_training=False)
    assert set(eval_batch) == {"input_ids", "token_type_ids", "attention_mask"}
    with pytest.raises(ValueError, match="is_training=True"):
        collate_qa(featurize_qa(EXAMPLES, tok), is_training=True)


# ----------------------------------------------------------------------------------------------------
# post-processing
# ----------------------------------------------------------------------------------------------------
def _fake_results(examples, feats, k=4):
    """Head outputs that put the best start/end exactly on the gold tokens in the gold's max-context window."""
    results = {}
    chosen = {}
    for f in feats:
        answer = examples[f.example_index].answers[0]
        doc_pos = sorted(f.token_to_orig_map)
        span = _gold_span(f, answer)
        good = span is not None and f.token_is_max_context[span[0]] and f.example_index not in chosen
        if good:
            chosen[f.example_index] = f.unique_id
        start_idx = np.array([(span[0] if good and i == 0 else doc_pos[i % len(doc_pos)]) for i in range(k)])
        end_idx = np.array([[doc_pos[(i + j) % len(doc_pos)] for j in range(k)] for i in range(k)])
        start_lp = np.linspace(-1.0, -4.0, k).astype(np.float32) - (0 if good else 5)
        end_lp = np.tile(np.linspace(-1.0, -4.0, k, dtype=np.float32), (k, 1))
        if good:
            end_idx[0, 0] = span[1]
        results[f.unique_id] = (start_lp, start_idx, end_lp, end_idx, np.float32(0.0))
    assert sorted(chosen) == list(range(len(examples)))
    return results


def _as_dataset(examples):
    qas = [
        {"id": e.qid, "question": e.question, "answers": [{"text": a.text, "answer_start": a.start} for a in e.answers]}
        for e in examples
    ]
    return {"data": [{"paragraphs": [{"context": examples[0].context, "qas": qas}]}]}


@pytest.mark.parametrize("max_seq_length", [512, 32])
def test_round_trip_exact_text(tok, max_seq_length):
    fixture = [*load_split("cmrc2018", TASKS, "train").examples, *load_split("drcd", TASKS, "train").examples]
    examples = EXAMPLES + fixture  # adds 光荣和ω-force (ω and - unknown) and 100萬人次 (traditional)
    feats = featurize_qa(examples, tok, max_seq_length=max_seq_length, doc_stride=8)
    preds, nbest = postprocess_qa(examples, feats, _fake_results(examples, feats))
    for example in examples:
        assert preds[example.qid] == example.answers[0].text, example.qid
        top = nbest[example.qid][0]
        assert example.context[top["char_start"] : top["char_end"]] == top["text"] == preds[example.qid]
    assert preds["q2"] == "iPhone 6s" and preds["q3"] == "小鑫" and preds["TRAIN_0_QUERY_0"] == "光荣和ω-force"
    assert preds["q7"] == "ＩＰｈｏｎｅ\u3000６ｓ"
    for group in (examples[:5], examples[5:6], examples[6:7], examples[7:9], examples[9:]):
        score = evaluate(_as_dataset(group), {e.qid: preds[e.qid] for e in group})
        assert float(score["EM"]) == 100.0 and float(score["F1"]) == 100.0


def test_nbest_sorted_normalized_and_bounded(tok):
    context = "今天天气很好我们去北京大学看书然后吃饭听音乐" * 3
    examples = [_ex("n1", "去哪里？", context, "北京大学", nth=2), _ex("n2", "做什么？", context, "吃饭")]
    feats = featurize_qa(examples, tok, max_seq_length=40, doc_stride=10)
    rng = np.random.default_rng(0)
    results = {}
    k = 6
    for f in feats:
        start_idx = rng.integers(0, len(f.tokens) + 3, size=k)  # includes query / [CLS] / padding positions
        end_idx = rng.integers(0, len(f.tokens) + 3, size=(k, k))
        start_lp = np.sort(rng.normal(-2, 1, size=k))[::-1].astype(np.float32)
        end_lp = np.sort(rng.normal(-2, 1, size=(k, k)), axis=1)[:, ::-1].astype(np.float32)
        results[f.unique_id] = (start_lp, start_idx, end_lp, end_idx, np.float32(0))
    preds, nbest = postprocess_qa(examples, feats, results, n_best_size=5, max_answer_length=3)
    for example in examples:
        entries = nbest[example.qid]
        assert 1 <= len(entries) <= 5 and preds[example.qid] == entries[0]["text"]
        probs = [e["probability"] for e in entries]
        assert abs(sum(probs) - 1) < 1e-6 and probs == sorted(probs, reverse=True)
        assert len({e["text"] for e in entries}) == len(entries)
        for e in entries:
            assert 1 <= len(e["text"]) <= 3  # one char per token here
            assert context[e["char_start"] : e["char_end"]] == e["text"]
        # brute force: the best valid (start, end) pair over all windows
        best = max(
            (float(r[0][i]) + float(r[2][i, j]))
            for f in feats
            if f.example_index == examples.index(example)
            for r in [results[f.unique_id]]
            for i in range(k)
            for j in range(k)
            if int(r[1][i]) in f.token_to_orig_map
            and f.token_is_max_context[int(r[1][i])]
            and int(r[1][i]) <= int(r[3][i, j]) < len(f.tokens)
            and int(r[3][i, j]) in f.token_to_orig_map
            and int(r[3][i, j]) - int(r[1][i]) < 3
        )
        assert entries[0]["start_logit"] + entries[0]["end_logit"] == pytest.approx(best)


def test_no_valid_span_and_missing_results(tok):
    feats = featurize_qa(EXAMPLES[:1], tok)
    k = 2
    cls_only = {
        f.unique_id: (np.zeros(k), np.zeros(k, int), np.zeros((k, k)), np.zeros((k, k), int), 0.0) for f in feats
    }
    preds, nbest = postprocess_qa(EXAMPLES[:1], feats, cls_only)
    assert preds == {"q1": ""} and nbest["q1"][0]["probability"] == 1.0
    with pytest.raises(ValueError, match="1 of 1 features have no model result"):
        postprocess_qa(EXAMPLES[:1], feats, {})


def test_write_predictions(tmp_path):
    preds = {"q1": "北京大学", "../evil": "小鑫", "a/b": "iPhone 6s"}
    nbest = {q: [{"text": t, "probability": np.float32(1.0), "char_start": 0, "char_end": 1}] for q, t in preds.items()}
    out = tmp_path / "run" / "dev"
    pred_path, nbest_path = write_predictions(out, preds, nbest)
    assert (pred_path.name, nbest_path.name) == ("predictions.json", "nbest_predictions.json")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["nbest_predictions.json", "predictions.json"]
    raw = pred_path.read_bytes()
    assert "北京大学".encode() in raw and b"\\u" not in raw
    assert json.loads(raw) == preds and json.loads(nbest_path.read_text("utf-8"))["a/b"][0]["probability"] == 1.0
    with pytest.raises(ValueError, match="non-empty strings"):
        write_predictions(out, {1: "x"}, {1: []})
    with pytest.raises(ValueError, match="different question ids"):
        write_predictions(out, {"a": "x"}, {})


# ----------------------------------------------------------------------------------------------------
# end to end with a tiny random joint head
# ----------------------------------------------------------------------------------------------------
def test_tiny_model_predictions_are_substrings(tok):
    import paddle

    from paddle_electra.catalog import Sizes
    from paddle_electra.modeling.config import electra_config
    from paddle_electra.modeling.heads import ElectraForSeedQA

    paddle.seed(0)
    model = ElectraForSeedQA(electra_config(Sizes(16, 32, 2, 2, 64, len(tok.vocab), 512)), beam_size=5)
    examples = EXAMPLES + load_split("cmrc2018", TASKS, "dev").examples + load_split("drcd", TASKS, "dev").examples

    train = featurize_qa(examples, tok, max_seq_length=40, doc_stride=8, is_training=True)
    batch = collate_qa(train[:4], is_training=True)
    loss = model(**{k: paddle.to_tensor(v) for k, v in batch.items()})[0]
    assert np.isfinite(float(loss))

    feats = featurize_qa(examples, tok, max_seq_length=40, doc_stride=8)
    model.eval()
    results = {}
    with paddle.no_grad():
        for start in range(0, len(feats), 7):
            chunk = feats[start : start + 7]
            batch = collate_qa(chunk, is_training=False)
            outputs = [o.numpy() for o in model(**{k: paddle.to_tensor(v) for k, v in batch.items()})]
            for row, f in enumerate(chunk):
                results[f.unique_id] = tuple(a[row] for a in outputs)
    preds, nbest = postprocess_qa(examples, feats, results, n_best_size=20, max_answer_length=30)
    assert set(preds) == {e.qid for e in examples}
    for example in examples:
        assert preds[example.qid] and preds[example.qid] in example.context
        for entry in nbest[example.qid]:
            assert example.context[entry["char_start"] : entry["char_end"]] == entry["text"]
