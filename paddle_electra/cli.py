"""``paddle-electra``: one thin subcommand per job; the work lives in the library modules.

Errors this package raises on purpose print as one line (``error: …``) with exit status 2; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import ElectraError

log = logging.getLogger("paddle_electra")
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None]):
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (help_text, configure, handler)
        return handler

    return register


# --------------------------------------------------------------------------------------------- convert
def _convert_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tf-checkpoint", metavar="DIR|PREFIX",
                     help="HFL TensorFlow checkpoint (directory or prefix such as DIR/electra_small)")
    src.add_argument("--hf", metavar="DIR|FILE", help="Hugging Face model directory, model.safetensors or .bin")
    dst = p.add_mutually_exclusive_group(required=True)
    dst.add_argument("--output", "-o", metavar="DIR", help="output directory")
    dst.add_argument("--name", metavar="MODEL", help="write into the local store as this catalog name")
    p.add_argument("--vocab", metavar="FILE", help="vocab.txt (default: the one beside the checkpoint)")
    p.add_argument("--config", metavar="NAME|JSON",
                   help="sizes to expect (catalog name or HFL config JSON); inferred from shapes by default")
    p.add_argument("--force", action="store_true", help="replace an output directory holding another model")


@command("convert", "convert a TF checkpoint or HF model into Paddle model directories", _convert_args)
def _convert(args: argparse.Namespace) -> int:
    from .convert.hf import convert_hf
    from .convert.tf import convert_tf_checkpoint

    if args.tf_checkpoint:
        written = convert_tf_checkpoint(args.tf_checkpoint, output=args.output, name=args.name,
                                        vocab=args.vocab, config=args.config, force=args.force)
        for role, path in written.items():
            print(f"{role}: {path}")
    else:
        print(convert_hf(args.hf, output=args.output, name=args.name, vocab=args.vocab, force=args.force))
    return 0


# ------------------------------------------------------------------------------------------ export-hf
def _export_hf_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME|DIR")
    p.add_argument("--output", "-o", required=True, metavar="DIR")
    p.add_argument("--force", action="store_true")


@command("export-hf", "write a Paddle model as HF model.safetensors + config.json", _export_hf_args)
def _export_hf(args: argparse.Namespace) -> int:
    from .convert.hf import export_hf

    print(export_hf(args.model, args.output, force=args.force))
    return 0


# -------------------------------------------------------------------------------------------- inspect
def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="TF checkpoint prefix or directory, HF directory, or model directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@command("inspect", "list a checkpoint's tensors, the release they match and where each goes (no weights needed)",
         _inspect_args)
def _inspect(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .convert.inspect import inspect_path

    report = inspect_path(args.path)
    print(json.dumps(asdict(report), ensure_ascii=False, indent=1) if args.json else report.render())
    return 0


# ----------------------------------------------------------------------------------------------- data
def _data_args(p: argparse.ArgumentParser) -> None:
    from .tasks import task_names

    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    prep = actions.add_parser("prepare", help="lay released task files out in the seed's layout and check them",
                              description="copy released files into OUTPUT/finetuning_data/TASK/ unchanged, then "
                                          "read each back: count, label balance and every skipped line")
    prep.add_argument("task", choices=[*task_names(), "custom", "ner"])
    prep.add_argument("--train", metavar="FILE")
    prep.add_argument("--dev", metavar="FILE")
    prep.add_argument("--test", metavar="FILE")
    prep.add_argument("--labels", metavar="FILE", help="label list, one per line (CAIL 2018: accu.txt)")
    prep.add_argument("--output", "-o", required=True, metavar="DIR", help="data directory (finetune --data-dir)")
    prep.add_argument("--force", action="store_true", help="replace a task directory this command wrote before")


@command("data", "prepare released task files for fine-tuning (`data prepare TASK ...`)", _data_args)
def _data(args: argparse.Namespace) -> int:
    from .tasks.prepare import prepare_task

    splits = prepare_task(args.task, {"train": args.train, "dev": args.dev, "test": args.test}, args.output,
                          labels=args.labels, force=args.force)
    print(f"{args.task} -> {Path(args.output) / 'finetuning_data' / args.task}")
    for split in splits:
        print("  " + split.describe())
    return 0


# ----------------------------------------------------------------------------------------- list/info
def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--installed", action="store_true", help="only models present in the local store")


@command("list", "list HFL's released models and which are in the local store", _list_args)
def _list(args: argparse.Namespace) -> int:
    from .catalog import CATALOG
    from .store import installed, models_dir

    have = set(installed())
    print(f"{'name':<40} {'E':>5} {'H':>5} {'L':>3} {'A':>3} {'I':>5}  store  hf id")
    for name, v in CATALOG.items():
        if args.installed and name not in have:
            continue
        s = v.sizes
        mark = "yes" if name in have else "-"
        print(f"{name:<40} {s.embedding_size:>5} {s.hidden_size:>5} {s.num_hidden_layers:>3} "
              f"{s.num_attention_heads:>3} {s.intermediate_size:>5}  {mark:<5}  {v.hf_id}")
    print(f"\nstore: {models_dir()} (set PADDLE_ELECTRA_HOME to move it)")
    return 0


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME|DIR")


@command("info", "show sizes and provenance of a catalog name or a model directory", _info_args)
def _info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .catalog import get_variant
    from .errors import ConfigError
    from .modeling.config import read_config_json, sizes_from_dict
    from .store import CONFIG_FILE, is_model_dir, read_meta, store_path

    path = Path(args.model).expanduser()
    info: dict[str, object] = {}
    if not path.is_dir():
        try:
            variant = get_variant(args.model)
        except ConfigError:
            raise ConfigError(f"{args.model!r} is neither a directory nor a known model name; "
                              "see `paddle-electra list`") from None
        info.update(name=variant.name, description=variant.description, hf_id=variant.hf_id,
                    companion=variant.companion, sizes=asdict(variant.sizes))
        path = store_path(variant.name)
    if is_model_dir(path):
        config = read_config_json(path / CONFIG_FILE)
        info.update(directory=str(path), architectures=config.get("architectures"),
                    sizes=asdict(sizes_from_dict(config, str(path / CONFIG_FILE))), provenance=read_meta(path))
    elif path.is_dir():
        raise ConfigError(f"{path} is not a model directory (no {CONFIG_FILE} + model_state.pdparams)")
    else:
        info["directory"] = f"not in the local store ({path})"
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


# -------------------------------------------------------------------------------------------- download
def _download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME")
    p.add_argument("--force", action="store_true")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the hub (default 10)")


@command("download", "fetch an HFL release from the Hugging Face hub (needs network) and convert it", _download_args)
def _download(args: argparse.Namespace) -> int:
    from .download import download

    print(download(args.model, force=args.force, timeout=args.timeout))
    return 0


# ------------------------------------------------------------------------------------ fill-mask / rtd
def _text_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME|DIR")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--max-seq-len", type=int, default=128)


@command("fill-mask", "predict [MASK] tokens with a generator", _text_args)
def _fill_mask(args: argparse.Namespace) -> int:
    from .inference import fill_mask

    for text, preds in zip(args.texts, fill_mask(args.model, args.texts, args.top_k, args.max_seq_len)):
        print(text)
        for pred in preds:
            print(f"  [MASK]@{pred.position}: " + "  ".join(f"{tok} {p:.3f}" for tok, p in pred.candidates))
    return 0


@command("rtd", "score each token as original or replaced with a discriminator", _text_args)
def _rtd(args: argparse.Namespace) -> int:
    from .inference import detect_replaced

    for text, scores in zip(args.texts, detect_replaced(args.model, args.texts, args.max_seq_len)):
        print(text)
        print("  " + " ".join(f"{s.token}{'*' if s.replaced_prob > 0.5 else ''}({s.replaced_prob:.2f})"
                              for s in scores))
    return 0


# ------------------------------------------------------------------------------------------ quickstart
def _quickstart_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", metavar="CHECKPOINT|NAME|DIR",
                   help="TF checkpoint, HF directory, model directory or store name (default: embedded tiny model)")
    p.add_argument("--workdir", default="quickstart_output", help="where outputs go (default ./quickstart_output)")
    p.add_argument("--epochs", type=float, help="fine-tuning epochs (default: 10 on the embedded set, else the task's)")
    p.add_argument("--data-dir", help="fine-tuning data in the seed's layout (default: embedded tiny set)")
    p.add_argument("--task", default="chnsenticorp")


@command("quickstart", "the main job: convert, fill-mask + RTD, install the hub module, fine-tune", _quickstart_args)
def _quickstart(args: argparse.Namespace) -> int:
    from .quickstart import quickstart

    quickstart(args.source, args.workdir, args.epochs, args.data_dir, args.task)
    return 0


# ------------------------------------------------------------------------------ finetune / evaluate
def _kernel_args(p: argparse.ArgumentParser) -> None:
    """The training commands' CPU kernel options (finetune and pretrain take the same)."""
    p.add_argument("--no-fused-kernels", dest="fused_kernels", action="store_false", default=None,
                   help="train on Paddle's own ops instead of the fused CPU kernels")
    p.add_argument("--bf16", action="store_true", default=None,
                   help="CPU: the fused kernels' GEMMs in bfloat16 (float32 weights and accumulation; needs AVX-512 "
                        "BF16; 1.4-1.5x the float32 step here)")


def _finetune_args(p: argparse.ArgumentParser) -> None:
    from .tasks import task_names

    p.add_argument("task", choices=[*task_names(), "custom", "ner"])
    p.add_argument("--data-dir", required=True, help="directory with finetuning_data/<task>/ (or <task>/)")
    p.add_argument("--model", required=True, metavar="NAME|DIR", help="store name or converted model directory")
    p.add_argument("--output", "-o", help="run directory (default runs/<task>-<model>)")
    p.add_argument("--hparams", help="seed-style hyperparameters: a JSON file or inline JSON")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--epochs", dest="num_train_epochs", type=float)
    p.add_argument("--batch-size", dest="train_batch_size", type=int)
    p.add_argument("--max-seq-length", type=int)
    p.add_argument("--layerwise-lr-decay", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--head", choices=["seed", "paddlenlp"], help="seed heads (default) or PaddleNLP's HF-style heads")
    p.add_argument("--device", choices=["auto", "cpu", "gpu"])
    p.add_argument("--amp", action="store_true", default=None, help="float16 mixed precision (GPU)")
    _kernel_args(p)
    p.add_argument("--grad-accumulation", type=int)
    p.add_argument("--save-every-steps", type=int)
    p.add_argument("--no-resume", dest="resume", action="store_false", default=None)
    own = p.add_argument_group("your own data (task `custom`: train/dev/test.csv|tsv|jsonl in DATA_DIR/custom/)")
    own.add_argument("--text-column", help="column (or JSON key) holding the text (default: from the header)")
    own.add_argument("--text-pair-column", help="second text of a sentence pair")
    own.add_argument("--label-column", help="column holding the label")


def _task_of(args: argparse.Namespace):
    from .tasks import custom_task

    named = (args.text_column, args.text_pair_column, args.label_column)
    if args.task != "custom":
        if any(named):
            from .errors import ConfigError

            raise ConfigError(f"--text-column/--text-pair-column/--label-column are for task `custom`; {args.task} "
                              "has the seed's fixed layout")
        return args.task
    return custom_task(*named)


def _finetune_overrides(args: argparse.Namespace) -> dict:
    keys = ("learning_rate", "num_train_epochs", "train_batch_size", "max_seq_length", "layerwise_lr_decay",
            "seed", "head", "device", "amp", "fused_kernels", "bf16", "grad_accumulation", "save_every_steps",
            "resume")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


@command("finetune", "fine-tune on one of the seed's tasks with the seed's recipe", _finetune_args)
def _finetune(args: argparse.Namespace) -> int:
    from .finetune import run_finetuning

    run_finetuning(_task_of(args), args.data_dir, args.model, args.output, args.hparams, **_finetune_overrides(args))
    return 0


@command("evaluate", "evaluate a fine-tuned model on dev and eval (no training)", _finetune_args)
def _evaluate(args: argparse.Namespace) -> int:
    from .finetune import run_finetuning

    run_finetuning(_task_of(args), args.data_dir, args.model, args.output, args.hparams, do_train=False,
                   **_finetune_overrides(args))
    return 0


# ------------------------------------------------------------------------------------------- predict
def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="DIR", help="best_model/ of a fine-tuning run")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="a text, or a pair as 'A|||B'")
    p.add_argument("--max-seq-length", type=int, default=128)
    fast = p.add_mutually_exclusive_group()
    fast.add_argument("--fast", action="store_true", default=None,
                      help="require the Paddle Inference export (the default uses it when it can be made and "
                           "matches the eager model within 1e-4, exported once to DIR/export-paddle)")
    fast.add_argument("--no-fast", dest="fast", action="store_false", help="eager Paddle only")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32",
                   help="bf16: oneDNN bf16 kernels (AVX-512 BF16 / AMX CPUs); int8: ONNX Runtime dynamic "
                        "quantization (needs the bench extra); see docs/benchmarks-precision.md")


@command("predict", "classify texts (or text pairs 'A|||B') with a fine-tuned model", _predict_args)
def _predict(args: argparse.Namespace) -> int:
    from .inference import predict_texts, read_labels

    if read_labels(Path(args.model))[0].get("head") == "token-cls":  # a NER model: one tag per character
        from .finetune.ner import tag_texts

        for text, tagged in zip(args.texts, tag_texts(args.model, args.texts, args.max_seq_length)):
            print(text + "\t" + " ".join(f"{ch}/{tag}" for ch, tag in tagged))
        return 0
    pairs = [tuple(t.split("|||", 1)) if "|||" in t else (t, None) for t in args.texts]
    for text, pred in zip(args.texts, predict_texts(args.model, pairs, args.max_seq_length, fast=args.fast,
                                                                  precision=args.precision)):
        probs = " ".join(f"{k}:{v:.3f}" for k, v in pred.probabilities.items())
        print(f"{pred.label}\t{probs}\t{text}")
    return 0


# ------------------------------------------------------------------------------------------- qa-eval
def _qa_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset_file")
    p.add_argument("prediction_file")


@command("qa-eval", "CMRC2018/DRCD official evaluation (drop-in for cmrc2018_drcd_evaluate.py)", _qa_eval_args)
def _qa_eval(args: argparse.Namespace) -> int:
    from .metrics.qa_eval import main as qa_main

    return qa_main([args.dataset_file, args.prediction_file])


# ------------------------------------------------------------------------------------------- hub
def _hub_install_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="catalog name, e.g. chinese-electra-small (see `paddle-electra list`)")
    p.add_argument("--hub-home", help="PaddleHub home (default $HUB_HOME or ~/.paddlehub)")


@command("hub-install", "install the PaddleHub module for NAME under $HUB_HOME/modules (offline)", _hub_install_args)
def _hub_install(args: argparse.Namespace) -> int:
    from .hub import install_module

    print(install_module(args.name, hub_home=args.hub_home))
    return 0


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--module", "-m", required=True, metavar="NAME",
                   help="installed hub module, e.g. chinese-electra-small")
    p.add_argument("--port", "-p", type=int, default=8866)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")


@command("serve", "`hub serving start` for a module, bound to localhost by default", _serve_args)
def _serve(args: argparse.Namespace) -> int:
    from .hub.serving import main as serving_main

    return serving_main(["start", "-m", args.module, "-p", str(args.port), "--host", args.host])


# ------------------------------------------------------------------------------------------- export
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME|DIR", help="store name, converted model directory or fine-tuned best_model/")
    p.add_argument("--format", choices=["paddle", "onnx"], default="paddle")
    p.add_argument("--output", "-o", help="export directory (default MODEL/export-FORMAT)")
    p.add_argument("--head", help="PaddleNLP head to export (default: the stored one)")


@command("export", "export a model for Paddle Inference (oneDNN/TensorRT) or ONNX Runtime", _export_args)
def _export(args: argparse.Namespace) -> int:
    from .inference.fast import export_checked

    print(export_checked(args.model, args.output, format=args.format, head=args.head))  # parity: in the log
    return 0


# ------------------------------------------------------------------------------------------- pretrain
def _pretrain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="NAME|DIR|TF_CHECKPOINT",
                   help="catalog name, directory with discriminator/ and generator/, or an HFL TF checkpoint")
    p.add_argument("--text", required=True, metavar="DIR|FILE", help="plain-text corpus (.txt files)")
    p.add_argument("--steps", required=True, type=int)
    p.add_argument("--output", "-o", required=True, help="run directory (checkpoints, curve.jsonl, exports)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-seq-length", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--mask-prob", type=float)
    p.add_argument("--temperature", type=float)
    p.add_argument("--doc-format", choices=["auto", "line", "blank"])
    p.add_argument("--pack-documents", action="store_true", default=None,
                   help="fill each example across document boundaries (for corpora of short documents)")
    p.add_argument("--generator", metavar="NAME|DIR|scratch", help="generator to pair with a discriminator directory")
    p.add_argument("--from-scratch", action="store_true", default=None, help="random weights of the model's sizes")
    p.add_argument("--save-every-steps", type=int)
    p.add_argument("--keep-checkpoints", type=int, help="newest checkpoints to keep (default 2)")
    p.add_argument("--log-every-steps", type=int, help="curve.jsonl / progress interval (default 10)")
    p.add_argument("--shuffle-buffer", type=int, help="examples shuffled together while streaming (default 1000)")
    p.add_argument("--vocab", metavar="PATH", help="vocab.txt when the model directory has none")
    p.add_argument("--disc-weight", type=float, help="discriminator loss weight (default 50)")
    p.add_argument("--grad-accumulation", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "gpu"])
    p.add_argument("--amp", action="store_true", default=None)
    _kernel_args(p)
    p.add_argument("--seed", type=int)
    p.add_argument("--export", help="comma-separated extra exports: tf, hf (paddle directories are always written)")
    p.add_argument("--no-resume", dest="resume", action="store_false", default=None)
    p.add_argument("--force", action="store_true", default=None)


@command("pretrain", "continue ELECTRA pretraining (generator + discriminator) on plain text", _pretrain_args)
def _pretrain(args: argparse.Namespace) -> int:
    from .pretraining import run_pretraining

    skip = {"model", "text", "steps", "output", "handler", "command", "debug", "quiet"}
    options = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
    result = run_pretraining(args.model, args.text, args.steps, args.output, **options)
    for key in ("discriminator", "generator", "tf", "hf"):
        value = result.get(key)
        for role, path in value.items() if isinstance(value, dict) else [("", value)] if value else []:
            print(f"{key}{' ' + role if role else ''}: {path}")
    return 0


# ------------------------------------------------------------------------------------------------ main
class _Parser(argparse.ArgumentParser):
    """Usage mistakes print one line, like every other error, pointing at ``--help``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="paddle-electra",
        description="Chinese ELECTRA (HFL) for PaddlePaddle: convert, inspect, use and fine-tune.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (help_text, configure, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(handler=handler)
    return parser


def _setup_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("paddle_electra").setLevel(level)
    os.environ.setdefault("GLOG_minloglevel", "2")  # silence Paddle's C++ INFO lines
    quiet_third_party(debug)


def quiet_third_party(debug: bool = False) -> None:
    """Keep our own progress readable: Paddle's import-time notices, PaddleNLP's expected load warnings."""
    if debug:
        return
    import importlib
    import warnings

    # before importing paddle: it warns about ccache and distutils at import
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="paddlenlp")
    # PaddleNLP warns on every expected "weights not used/newly initialised" load (heads are checked by us);
    # PaddleHub logs each install at INFO.
    for module_name, level in (("paddlenlp.utils.log", "ERROR"), ("paddlehub.utils.log", "WARNING")):
        if module_name.startswith("paddlehub") and "paddlehub" not in sys.modules:
            continue  # importing PaddleHub costs seconds; commands that use it quiet it themselves
        try:
            importlib.import_module(module_name).logger.set_level(level)
        except Exception:  # not installed or its logger changed: nothing to quiet
            pass


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    try:
        _setup_logging(args.debug, args.quiet)
        if args.command not in _WITHOUT_PADDLE:
            from .runtime import tune_process

            tune_process()  # this process only: AVX2 GEMM kernels of Paddle's MKL on AMD, before any matmul
            import paddle  # noqa: F401 - Paddle installs its own SIGTERM handler at import; ours must come after
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)  # SIGTERM unwinds like Ctrl-C: temp files removed
        except ValueError:  # not the main thread (embedded use): leave signals alone
            pass
        return args.handler(args)
    except ElectraError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left; re-run the command to continue", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_WITHOUT_PADDLE = frozenset({"list", "info", "qa-eval", "download", "inspect"})


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
