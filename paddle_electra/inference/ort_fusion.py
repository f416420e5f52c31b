"""``model.ort.onnx``: our ONNX export with ONNX Runtime's fused transformer kernels, for small batches.

ORT's transformer optimizer (``onnxruntime.transformers``, what Optimum ships) fuses HF's PyTorch exports into
EmbedLayerNormalization / Attention / SkipLayerNormalization / BiasGelu. On paddle2onnx's graph it finds none
of them as is: every weight is a ``Constant`` node, ~300 ``Identity`` nodes sit between ops, and opset 13 spells
LayerNorm out in ten ops. With constants as initializers, the identities dropped and opset 17 it fuses the
embeddings, the 24 LayerNorms and the GELUs; its attention pattern still does not match paddle2onnx's
(the scale is applied to Q before QKᵀ, K is transposed twice), so :func:`_fuse_attention` rewrites
each attention block into ``com.microsoft.Attention`` itself (the three projections packed into one QKV
weight, the padding mask as a key mask, context out). The result is checked like every export:
``export_checked`` runs it against the eager model.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ORT_FILE = "model.ort.onnx"


def write_ort_model(onnx_file: Path, num_heads: int, hidden_size: int) -> Path | None:
    """Write ``model.ort.onnx`` beside ``onnx_file``; None (and a debug line) where the fusions do not apply."""
    try:
        import onnx
        from onnxruntime.transformers import optimizer
    except ImportError:
        return None
    from ..fs import atomic_path

    target = onnx_file.with_name(ORT_FILE)
    plain = onnx_file.with_name(f".{ORT_FILE}.plain")
    try:
        model = onnx.load(str(onnx_file))
        constants_as_initializers(model)
        _drop_identities(model)
        onnx.save(model, str(plain))
        fused = optimizer.optimize_model(str(plain), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                         opt_level=0).model
        try:
            attention = _fuse_attention(fused, num_heads)
        except _NoMatch as why:  # ORT's own fusions still apply
            log.debug("attention of %s left unfused: %s", onnx_file, why)
            attention = 0
        _sort_and_prune(fused)
        with atomic_path(target) as partial:
            onnx.save(fused, str(partial))
    except Exception as err:  # noqa: BLE001 - an optional speed-up: the plain export stays what runs
        log.debug("no ORT-fused model for %s: %s", onnx_file, err)
        return None
    finally:
        plain.unlink(missing_ok=True)
    counts = collections.Counter(node.op_type for node in fused.graph.node)
    log.debug("ORT-fused %s: %d attention, %d SkipLayerNormalization, %d BiasGelu", target, attention,
              counts["SkipLayerNormalization"], counts["BiasGelu"])
    return target


def constants_as_initializers(model: Any) -> None:
    """paddle2onnx writes every weight as a ``Constant`` node; ORT's quantizer only quantizes MatMuls whose weight
    is an initializer. Constants and initializers mean the same to ONNX, so the nodes become initializers."""
    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = node.attribute[0].t
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)


def _drop_identities(model: Any) -> None:
    graph = model.graph
    outputs = {output.name for output in graph.output}
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] not in outputs:
            alias[node.output[0]] = node.input[0]
        else:
            kept.append(node)

    def source(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for node in kept:
        for index, name in enumerate(node.input):
            node.input[index] = source(name)
    del graph.node[:]
    graph.node.extend(kept)


class _NoMatch(Exception):
    pass


def _fuse_attention(model: Any, num_heads: int) -> int:
    """Each paddle2onnx attention block, with its Q/K/V projections, → one ``com.microsoft.Attention`` node (one
    packed QKV GEMM and the fused attention, as ORT makes of HF's exports); all or none."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}

    def parent(node, index: int, op: str):
        found = producer.get(node.input[index])
        if found is None or found.op_type != op:
            raise _NoMatch(f"{node.op_type} input {index} is not {op}")
        return found

    def only_child(node, op: str):
        found = consumers.get(node.output[0], [])
        if len(found) != 1 or found[0].op_type != op:
            raise _NoMatch(f"{node.op_type} is not followed by one {op}")
        return found[0]

    def scalar(name: str) -> float:
        if name not in constants or constants[name].size != 1:
            raise _NoMatch(f"{name} is not a constant scalar")
        return float(constants[name].reshape(-1)[0])

    removed: set[int] = set()
    added, masks = [], {}
    for softmax in [node for node in graph.node if node.op_type == "Softmax"]:
        add_mask = parent(softmax, 0, "Add")
        scores, mask = producer.get(add_mask.input[0]), add_mask.input[1]
        if scores is None or scores.op_type != "MatMul":
            scores, mask = parent(add_mask, 1, "MatMul"), add_mask.input[0]
        q_shift = parent(scores, 0, "Add")
        q_scale = parent(q_shift, 0, "Mul")
        if scalar(q_shift.input[1]) != 0.0:
            raise _NoMatch("Q is shifted, not only scaled")
        q_heads = parent(q_scale, 0, "Transpose")
        q_split = parent(q_heads, 0, "Reshape")
        k_t = parent(scores, 1, "Transpose")
        k_heads = parent(k_t, 0, "Transpose")
        k_split = parent(k_heads, 0, "Reshape")
        context = only_child(softmax, "MatMul")
        v_heads = parent(context, 1, "Transpose")
        v_split = parent(v_heads, 0, "Reshape")
        merged = only_child(context, "Transpose")
        flat = only_child(merged, "Reshape")
        removed.update(id(node) for node in (add_mask, scores, q_shift, q_scale, q_heads, q_split, k_t, k_heads,
                                             k_split, softmax, context, v_heads, v_split, merged, flat))
        if mask not in masks:  # the additive mask (0 / -1e4, [batch, 1, 1, seq]) as a [batch, seq] key mask
            name = f"mha_key_mask_{len(masks)}"
            graph.initializer.extend([numpy_helper.from_array(np.array(0, np.float32), name + "_zero"),
                                      numpy_helper.from_array(np.array([0, -1], np.int64), name + "_shape")])
            added += [helper.make_node("Equal", [mask, name + "_zero"], [name + "_keep"]),
                      helper.make_node("Cast", [name + "_keep"], [name + "_int"], to=TensorProto.INT32),
                      helper.make_node("Reshape", [name + "_int", name + "_shape"], [name])]
            masks[mask] = name
        projections = [_projection(producer, constants, split.input[0]) for split in (q_split, k_split, v_split)]
        if len({source for source, _, _, _ in projections}) != 1:
            raise _NoMatch("Q, K and V are not projections of one input")
        removed.update(id(node) for _, _, _, nodes in projections for node in nodes)
        packed = f"attention_{len(added)}"
        graph.initializer.extend([
            numpy_helper.from_array(np.concatenate([w for _, w, _, _ in projections], axis=1), packed + "_weight"),
            numpy_helper.from_array(np.concatenate([b for _, _, b, _ in projections]), packed + "_bias")])
        added.append(helper.make_node("Attention", [projections[0][0], packed + "_weight", packed + "_bias",
                                                    masks[mask]], [flat.output[0]], domain="com.microsoft",
                                      num_heads=num_heads, scale=scalar(q_scale.input[1]), name=packed))
    if not added:
        return 0
    kept = [node for node in graph.node if id(node) not in removed]
    del graph.node[:]
    graph.node.extend(kept + added)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return sum(node.op_type == "Attention" for node in added)


def _projection(producer: dict, constants: dict, name: str):
    """``name`` = x @ W + b with W, b constants: (x, W, b, the two nodes), else _NoMatch."""
    bias_add = producer.get(name)
    if bias_add is None or bias_add.op_type != "Add":
        raise _NoMatch(f"{name} is not a bias add")
    first = producer.get(bias_add.input[0])
    matmul_index = 0 if first is not None and first.op_type == "MatMul" else 1
    matmul = producer.get(bias_add.input[matmul_index])
    bias = constants.get(bias_add.input[1 - matmul_index])
    if matmul is None or matmul.op_type != "MatMul" or bias is None or matmul.input[1] not in constants:
        raise _NoMatch(f"{name} is not MatMul + bias with constant weights")
    return matmul.input[0], constants[matmul.input[1]], bias, (bias_add, matmul)


def _sort_and_prune(model: Any) -> None:
    """Nodes in dependency order (the rewrite appended its nodes) and no initializer nothing reads."""
    graph = model.graph
    ready = {value.name for value in graph.input} | {init.name for init in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        waiting = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            raise ValueError("the rewritten graph has a cycle or a missing input")
        pending = waiting
    del graph.node[:]
    graph.node.extend(ordered)
    used = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
