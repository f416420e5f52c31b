"""Span-extraction fine-tuning (CMRC2018, DRCD) with the seed's joint QA head and the official metric.

Predictions are written to ``<run>/results/<task>_qa/<split>/predictions.json`` (+ n-best), as the seed writes
``results/<task>_qa/``, and scored with the official CMRC2018/DRCD evaluator.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..metrics.qa_eval import evaluate as official_eval
from .settings import model_overrides
from .shared import eval_splits, init_head, scoring_predictor, scoring_runtime, train_and_report

log = logging.getLogger("paddle_electra.finetune")


def _to_tensors(batch: dict[str, np.ndarray]):
    import paddle

    return {k: paddle.to_tensor(v) for k, v in batch.items()}


def predict_qa(model, examples, features, settings, fast=None) -> tuple[dict[str, str], dict[str, list]]:
    """Run the joint head's beam search over every window, then map the best spans back to characters.

    ``fast``: a :class:`~..inference.fast.ModelExport` of ``model`` with all outputs at the static length
    ``settings.max_seq_length`` (windows are padded to it); eager Paddle when None, unavailable, or when the
    model scores the beam on the fused pair kernel."""
    import paddle

    from ..tasks.qa_features import collate_qa, postprocess_qa

    model.eval()
    if getattr(model, "pair_scorer", None) is not None:
        # the fused pair-score kernel (the training loop fuses on CPU) beats the exported runtime on the beam:
        # 300 real CMRC dev questions in 4.6 s against 18 s, so the export is not made
        fast = None
    predictor = scoring_predictor(fast) if fast is not None else None
    run = predictor.run_all if predictor is not None else None
    results = {}
    order = sorted(range(len(features)), key=lambda i: len(features[i].input_ids))  # bucket by length
    with paddle.no_grad():
        for start in range(0, len(order), settings.eval_batch_size):
            chunk = [features[i] for i in order[start:start + settings.eval_batch_size]]
            batch = collate_qa(chunk, is_training=False)
            inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
            if run is not None:
                width = settings.max_seq_length - inputs["input_ids"].shape[1]
                arrays = run(**{k: np.pad(v, ((0, 0), (0, width))) for k, v in inputs.items()})
            else:
                arrays = [o.numpy() for o in model(**_to_tensors(inputs))]
            for row, feature in enumerate(chunk):
                results[feature.unique_id] = tuple(a[row] for a in arrays)
    return postprocess_qa(examples, features, results, settings.n_best_size, settings.max_answer_length)


def _as_squad(examples) -> dict:
    """The official evaluator reads SQuAD-format JSON; rebuild it from our examples (answers as references)."""
    paragraphs = [{"context": e.context, "qas": [{"id": e.qid, "question": e.question,
                                                  "answers": [{"text": a.text, "answer_start": a.start}
                                                              for a in e.answers]}]} for e in examples]
    return {"data": [{"paragraphs": paragraphs}]}


def run_qa(spec, data_dir, model_dir: Path, out: Path, settings) -> dict[str, dict[str, float]]:
    import paddle

    from ..modeling.heads import ElectraForSeedQA
    from ..modeling.load import from_pretrained_checked
    from ..tasks import load_split
    from ..tasks.qa_features import collate_qa, featurize_qa, write_predictions
    from ..tokenizer import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    feat_args = dict(max_seq_length=settings.max_seq_length, doc_stride=settings.doc_stride,
                     max_query_length=settings.max_query_length)
    splits = {s: load_split(spec, data_dir, s).examples for s in eval_splits(spec, data_dir, settings)}
    eval_features = {s: featurize_qa(ex, tokenizer, is_training=False, **feat_args) for s, ex in splits.items()}
    paddle.seed(settings.seed)
    model = from_pretrained_checked(ElectraForSeedQA, model_dir, beam_size=settings.beam_size,
                                    answerable_weight=settings.answerable_weight, **model_overrides(settings))
    model.loss_reduction = settings.loss_reduction
    init_head(model, settings)

    exporter = scoring_runtime(model, settings, all_outputs=True, static_length=settings.max_seq_length)

    def score(split: str) -> dict[str, float]:
        preds, nbest = predict_qa(model, splits[split], eval_features[split], settings, exporter)
        write_predictions(out / "results" / f"{spec.name}_qa" / split, preds, nbest)
        metrics = official_eval(_as_squad(splits[split]), preds)
        return {"em": float(metrics["EM"]), "f1": float(metrics["F1"]), "score": float(metrics["AVERAGE"])}

    def save(model_, directory: Path) -> None:
        from ..store import stamp_model_dir

        model_.save_pretrained(str(directory))
        tokenizer.save_pretrained(str(directory))
        stamp_model_dir(directory, head="qa", task=spec.name, model_head="seed")

    if settings.do_train:
        train_examples = load_split(spec, data_dir, "train").examples
        train_features = featurize_qa(train_examples, tokenizer, is_training=True, **feat_args)
        log.info("%s: %d training examples -> %d windows", spec.name, len(train_examples), len(train_features))

        def batches_for_epoch(epoch: int):
            from ..training.features import train_batches

            return [collate_qa([train_features[i] for i in idx], is_training=True)
                    for idx in train_batches(train_features, settings.train_batch_size, epoch, settings.seed,
                                             shuffle=settings.shuffle)]

        def loss_fn(model_, batch):
            return model_(**_to_tensors(batch))[0]

    results = train_and_report(model, out, settings, list(splits), score,
                               lambda m: f"{spec.name}: em: {m['em']:.2f} - f1: {m['f1']:.2f}",
                               (batches_for_epoch, loss_fn, save) if settings.do_train else None)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
