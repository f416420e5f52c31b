"""The package map of docs/architecture.md, checked: no import cycles (lazy imports count) and imports point down."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# docs/architecture.md, top to bottom: a unit may import its own layer's units and those of earlier layers
LAYERS = [
    # foundation (no Paddle at import); convert/names.py is the one TF/HF/Paddle name table: data every layer reads
    {"errors", "numeric", "textio", "catalog", "fs", "compat", "convert.names"},
    {"checkpoint"},
    {"tokenizer", "store", "modeling"},
    {"convert", "sources"},
    {"tasks", "metrics"},
    {"runtime", "training", "ops"},
    {"inference"},
    {"finetune", "pretraining"},
    {"hub", "quickstart", "download"},
    {"cli", "__init__", "__main__"},
]


def _graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def _unit(module: str) -> str:
    if module == "paddle_electra.convert.names":
        return "convert.names"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycles() -> None:
    tool = _graph()
    assert tool.cycles(tool.import_graph(ROOT)) == []


def test_every_unit_has_a_layer_and_imports_point_down() -> None:
    tool = _graph()
    graph = tool.import_graph(ROOT)
    layer_of = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    units = {_unit(m) for m in graph}
    assert units <= set(layer_of), f"not in docs/architecture.md's map: {sorted(units - set(layer_of))}"
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if layer_of[_unit(d)] > layer_of[_unit(m)])
    assert upward == []


def test_importing_the_library_changes_no_process_state() -> None:
    """Environment, warning filters and Paddle's thread count are the user's: only the CLI tunes its own process."""
    import subprocess

    code = """
import os, sys, warnings
import paddle, paddlenlp, paddlehub  # their own import-time effects are not ours
env, filters, threads = dict(os.environ), list(warnings.filters), paddle.get_flags(["FLAGS_paddle_num_threads"])
import paddle_electra, paddle_electra.inference, paddle_electra.finetune, paddle_electra.pretraining
import paddle_electra.hub, paddle_electra.runtime, paddle_electra.compat, paddle_electra.sources
changed = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
assert not changed, changed
assert list(warnings.filters) == filters, "warning filters changed"
assert paddle.get_flags(["FLAGS_paddle_num_threads"]) == threads
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
