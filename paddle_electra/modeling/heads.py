"""Task heads as the seed (ymcui/Chinese-ELECTRA run_finetuning.py) builds them, on PaddleNLP's backbone.

PaddleNLP's own heads are HF's (a 2-layer GELU classifier, a Linear(H,2) QA head); the seed's results were
obtained with a single Linear on [CLS] and a *joint* QA head whose end logits are conditioned on the start
token. These classes subclass ``ElectraPretrainedModel`` so ``from_pretrained(dir)`` loads the backbone of
any converted directory and initialises the head fresh (or restores it from a fine-tuned directory).
"""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddlenlp.transformers import ElectraModel, ElectraPretrainedModel

NEG = 1000.0  # the seed masks logits with -1000, not -inf, so log_softmax stays finite


class ElectraForSeedClassification(ElectraPretrainedModel):
    """[CLS] -> dropout(0.1) -> Linear(H, num_labels): the seed's ClassificationTask head."""

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, attention_mask=None, labels=None):
        hidden = self.electra(input_ids, token_type_ids, position_ids, attention_mask)
        logits = self.classifier(self.dropout(hidden[:, 0]))
        if labels is None:
            return logits
        return F.cross_entropy(logits, labels.reshape([-1, 1])).mean(), logits


class ElectraForSeedQA(ElectraPretrainedModel):
    """The seed's joint span head: start logits, end logits conditioned on the start, answerability.

    Training conditions the end on the gold start; inference keeps the top ``beam_size`` starts and, for each,
    the top ``beam_size`` ends, returning log-probabilities and indices for span post-processing.
    """

    def __init__(self, config, beam_size: int = 20, qa_hidden: int = 512, answerable_weight: float = 0.5):
        super().__init__(config)
        hidden = config.hidden_size
        self.beam_size = beam_size
        self.answerable_weight = answerable_weight
        self.loss_reduction = "mean"  # fine-tuning sets "sum", the seed's reduction over the batch
        self.electra = ElectraModel(config)
        self.start_dense = nn.Linear(hidden, 1)
        self.qa_hidden = nn.Linear(2 * hidden, qa_hidden)
        self.end_dense = nn.Linear(qa_hidden, 1)
        self.answerable_hidden = nn.Linear(2 * hidden, qa_hidden)
        self.answerable_dense = nn.Linear(qa_hidden, 1)
        # set by paddle_electra.ops.fuse_encoder: a fused kernel for the beam's pair scores (None: Paddle's ops)
        self.pair_scorer = None

    def _end_logits(self, start_features, end_features, pairwise: bool = False):
        """The seed's ``dense(concat(start, end))`` as ``start @ W[:H] + end @ W[H:] + b`` (the same sum): each
        half is projected once, not every (start, end) pair's concat ([B, beam, L, 2H] rows at inference).
        ``pairwise``: start [B, k, H] x end [B, L, H] -> [B, k, L] (the beam); else start [B, 1, H] broadcast over
        end [B, L, H] -> [B, L]. With ``pair_scorer`` (the fused CPU kernel) the beam's [B, k, L, C] activations
        are never materialised: 300 real CMRC dev questions score in 3.7 s instead of 26.5."""
        if pairwise and not paddle.in_dynamic_mode():
            # traced for Paddle Inference: its fc on the concat runs this far faster than a broadcast add
            # (measured on 300 CMRC dev questions: 6.8 s against 106 s)
            beam, seq_len = start_features.shape[1], end_features.shape[1]
            pairs = paddle.concat([start_features.unsqueeze(2).expand([-1, -1, seq_len, -1]),
                                   end_features.unsqueeze(1).expand([-1, beam, -1, -1])], -1)
            return self.end_dense(F.gelu(self.qa_hidden(pairs))).squeeze(-1)
        start_weight, end_weight = paddle.split(self.qa_hidden.weight, 2, axis=0)  # [2H, C] -> two [H, C]
        start_part = paddle.matmul(start_features, start_weight) + self.qa_hidden.bias  # [B, k or 1, C]
        end_part = paddle.matmul(end_features, end_weight)  # [B, L, C]
        if not pairwise:
            return self.end_dense(F.gelu(start_part + end_part)).squeeze(-1)
        if self.pair_scorer is not None:
            scores = self.pair_scorer(start_part, end_part, self.end_dense.weight, self.end_dense.bias)
            if scores is not None:
                return scores
        return self.end_dense(F.gelu(start_part.unsqueeze(2) + end_part.unsqueeze(1))).squeeze(-1)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, attention_mask=None,
                start_positions=None, end_positions=None, is_impossible=None):
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).astype("int64")
        if token_type_ids is None:
            token_type_ids = paddle.zeros_like(input_ids)
        hidden = self.electra(input_ids, token_type_ids, position_ids, attention_mask)  # [B, L, H]
        seq_len = hidden.shape[1]
        answer_mask = attention_mask.astype(hidden.dtype) * token_type_ids.astype(hidden.dtype)
        answer_mask = answer_mask + F.one_hot(paddle.zeros([1], "int64"), seq_len).astype(hidden.dtype)
        start_logits = self.start_dense(hidden).squeeze(-1) + NEG * (answer_mask - 1)
        start_probs = F.softmax(start_logits, -1)
        cls_and_start = paddle.concat([hidden[:, 0], (start_probs.unsqueeze(-1) * hidden).sum(1)], -1)
        answerable_logit = self.answerable_dense(F.gelu(self.answerable_hidden(cls_and_start))).squeeze(-1)

        if start_positions is not None:
            gold = F.one_hot(start_positions.reshape([-1]), seq_len).astype(hidden.dtype)  # [B, L]
            start_features = (gold.unsqueeze(-1) * hidden).sum(1, keepdim=True)  # [B, 1, H], broadcast over L
            end_logits = self._end_logits(start_features, hidden) + NEG * (answer_mask - 1)
            loss = (_nll(start_logits, start_positions) + _nll(end_logits, end_positions)) / 2.0
            if is_impossible is not None:
                loss = loss + self.answerable_weight * F.binary_cross_entropy_with_logits(
                    answerable_logit, is_impossible.astype(hidden.dtype).reshape([-1]), reduction="none")
            # per example: (start + end) / 2 + answerable_weight * answerable loss, as the seed's qa_tasks.py
            return (loss.sum() if self.loss_reduction == "sum" else loss.mean()), start_logits, end_logits

        beam = min(self.beam_size, seq_len)
        start_top_log_probs, start_top_index = paddle.topk(F.log_softmax(start_logits, -1), beam)  # [B, k]
        start_features = paddle.take_along_axis(hidden, start_top_index.unsqueeze(-1), axis=1)  # [B, k, H]
        # every (start candidate, end position) pair: [B, k, L]
        end_logits = self._end_logits(start_features, hidden, pairwise=True) + NEG * (answer_mask.unsqueeze(1) - 1)
        end_top_log_probs, end_top_index = paddle.topk(F.log_softmax(end_logits, -1), beam)  # [B, k, k]
        return start_top_log_probs, start_top_index, end_top_log_probs, end_top_index, answerable_logit


def _nll(logits, positions):
    return -paddle.take_along_axis(F.log_softmax(logits, -1), positions.reshape([-1, 1]), axis=1).squeeze(-1)
