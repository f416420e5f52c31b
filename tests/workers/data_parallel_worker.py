"""Run by tests/test_distributed.py: a few FineTuner steps on a tiny model, alone or under paddle.distributed.

Usage: data_parallel_worker.py MODEL_DIR OUT_DIR GRAD_ACCUMULATION. Writes OUT_DIR/params-rank<r>.npy (all
parameters, concatenated) so the test can compare ranks and runs.
"""

import sys
from pathlib import Path

import numpy as np
import paddle

from paddle_electra.modeling.heads import ElectraForSeedClassification
from paddle_electra.training.loop import FineTuner, LoopConfig
from paddle_electra.training.optim import RecipeConfig


def main(model_dir: str, out: str, accumulation: int) -> None:
    paddle.set_device("cpu")
    paddle.seed(0)
    model = ElectraForSeedClassification.from_pretrained(model_dir, num_labels=2, hidden_dropout_prob=0.0,
                                                         attention_probs_dropout_prob=0.0)
    rng = np.random.default_rng(0)
    batches = [{"input_ids": rng.integers(5, 100, (4, 12)).astype("int64"),
                "token_type_ids": np.zeros((4, 12), "int64"), "attention_mask": np.ones((4, 12), "int64"),
                "labels": rng.integers(0, 2, (4,)).astype("int64")} for _ in range(8)]

    def loss_fn(model_, batch):
        logits = model_(input_ids=paddle.to_tensor(batch["input_ids"]),
                        token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                        attention_mask=paddle.to_tensor(batch["attention_mask"]))
        return paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(batch["labels"]).reshape([-1, 1]))

    config = LoopConfig(epochs=1, grad_accumulation=accumulation, log_every_steps=1,
                        recipe=RecipeConfig(learning_rate=1e-3, layerwise_lr_decay=0.8, warmup_proportion=0.0))
    tuner = FineTuner(model, model.electra.config.num_hidden_layers, out, config, lambda epoch: batches, loss_fn)
    tuner.train(resume=False)
    params = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    np.save(Path(out) / f"params-rank{paddle.distributed.get_rank()}.npy", params)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
