"""The README's main job: convert a checkpoint, use both pretraining heads, install the hub module, fine-tune.

With no argument it runs on the tiny checkpoint and data shipped inside the package, so a fresh machine can
check the whole pipeline in about a minute; given a TF checkpoint, an HF directory, a model directory or a
catalog name in the local store, it runs the same steps on that.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .sources import models_for

log = logging.getLogger("paddle_electra.quickstart")

RESOURCES = Path(__file__).parent / "resources"
TINY_CHECKPOINT = RESOURCES / "electra_tiny"
TINY_DATA = RESOURCES / "tiny_data"
FILL_MASK_TEXT = "今天天[MASK]很好"
RTD_TEXT = "今天天气很好，我很开心"


def quickstart(source: str | None = None, workdir: str | Path = "quickstart_output", epochs: float | None = None,
               data_dir: str | Path | None = None, task: str = "chnsenticorp") -> dict:
    """Run every stage and print what each produced; returns the fine-tuning results."""
    from .inference import detect_replaced, fill_mask

    workdir = Path(workdir)
    print(f"[1/4] converting {source or 'the embedded tiny checkpoint (random weights)'}")
    disc, gen = models_for(source or TINY_CHECKPOINT, workdir / "models")
    print(f"      discriminator: {disc}\n      generator:     {gen or '(none)'}")
    if gen is not None:
        print(f"[2/4] fill-mask with the generator: {FILL_MASK_TEXT}")
        for pred in fill_mask(gen, [FILL_MASK_TEXT], top_k=5)[0]:
            print("      " + "  ".join(f"{tok} {p:.3f}" for tok, p in pred.candidates))
    else:
        print("[2/4] fill-mask skipped: no generator for this model")
    print(f"      replaced-token detection with the discriminator: {RTD_TEXT}")
    scores = detect_replaced(disc, [RTD_TEXT])[0]
    print("      " + " ".join(f"{s.token}:{s.replaced_prob:.2f}" for s in scores))
    print("[3/4] installing the PaddleHub module")
    _hub_install(disc)
    print(f"[4/4] fine-tuning {task} ({'embedded tiny set' if data_dir is None else data_dir})")
    from .finetune import run_finetuning

    # The embedded set is 64 sentences: more epochs and a higher rate than the seed's, to show it learning.
    tiny = {"num_train_epochs": 10, "learning_rate": 1e-3, "train_batch_size": 16} if data_dir is None else {}
    if epochs is not None:
        tiny["num_train_epochs"] = epochs
    return run_finetuning(task, data_dir or TINY_DATA, disc, workdir / f"finetune-{task}", resume=False, **tiny)


def _hub_install(disc: Path) -> None:
    """Install the module where ``hub install`` would ($HUB_HOME, default ~/.paddlehub) and use it by name."""
    import paddlehub as hub
    import paddlehub.env

    from .hub import install_module

    hub_home = paddlehub.env.HUB_HOME  # where hub.Module(name=…) will look
    path = install_module("chinese-electra-small", hub_home=hub_home)
    print(f"      installed {path} (HUB_HOME={hub_home})")

    module = hub.Module(name="chinese-electra-small", model_dir=str(disc))
    pooled, tokens = module.get_embedding([[RTD_TEXT]])[0]
    print(f"      hub.Module(name='chinese-electra-small', model_dir=…).get_embedding: pooled {len(pooled)} floats, "
          f"{len(tokens)} token vectors")
