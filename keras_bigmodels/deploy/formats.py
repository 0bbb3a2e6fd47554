"""Writing a run's inference function in each format, and running it back.

Each format is written by its own converter and read back by its own
runtime, never by Keras: TensorFlow for a SavedModel (TensorFlow Serving's
format), tf2onnx and onnxruntime for ONNX, the TensorFlow Lite converter and
the LiteRT interpreter (`ai-edge-litert`) for LiteRT. `int8` is dynamic-range
quantization: weights stored as 8-bit integers, activations in float.
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np

FORMATS = ("saved_model", "onnx", "litert")
QUANTIZABLE = ("onnx", "litert")
SUFFIX = {"saved_model": ".savedmodel", "onnx": ".onnx", "litert": ".tflite"}
RUNTIME = {
    "saved_model": "tensorflow",
    "onnx": "onnxruntime",
    "litert": "ai-edge-litert",
}
ONNX_OPSET = 17


class UnsupportedOpError(ValueError):
    """A format has no mapping for an op of the model."""

    def __init__(self, fmt: str, ops: list, working=()):
        self.format, self.ops, self.working = fmt, ops, list(working)
        super().__init__(fmt, ops)

    def __str__(self):
        line = (
            f"{self.format} cannot represent the op {', '.join(self.ops)} of this model"
        )
        if self.working:
            return (
                f"{line}; {' and '.join(self.working)} can (--format {self.working[0]})"
            )
        return line


def _require(module: str, extra: str = "export"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this format needs the package {module.split('.')[0]!r}: "
            f'pip install -e ".[{extra}]"'
        ) from None


def write(fmt: str, serving, path: str, *, quantize: str | None = None) -> None:
    """Write `serving`'s function in `fmt` at `path` (a folder for saved_model)."""
    if fmt == "saved_model":
        _write_saved_model(serving, path)
    elif fmt == "onnx":
        _write_onnx(serving, path, quantize)
    else:
        _write_litert(serving, path, quantize)


def _write_saved_model(serving, path):
    import tensorflow as tf

    tf.saved_model.save(
        serving.module, path, signatures={"serving_default": serving.function}
    )


def _write_onnx(serving, path, quantize):
    _require("onnx")
    tf2onnx = _require("tf2onnx")
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    _register_onnx_mappings()
    # Frozen first: every captured value becomes a constant of the graph
    # (a Normalization layer's adapted mean is a captured tensor, which
    # tf2onnx would otherwise turn into an extra input).
    frozen = convert_variables_to_constants_v2(
        serving.function.get_concrete_function(), lower_control_flow=False
    )
    model_proto, _ = tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(),
        input_names=[t.name for t in frozen.inputs],
        output_names=[t.name for t in frozen.outputs],
        opset=ONNX_OPSET,
    )
    _rename(
        model_proto.graph,
        {t.name: t.name.split(":")[0] for t in frozen.inputs}
        | {frozen.outputs[0].name: serving.output_name},
    )
    unsupported = sorted(
        {n.op_type for n in model_proto.graph.node if not _onnx_known(n)}
    )
    if unsupported:
        raise UnsupportedOpError("onnx", unsupported)
    if quantize:
        _quantize_onnx_weights(model_proto.graph)
    with open(path, "wb") as f:
        f.write(model_proto.SerializeToString())


# ONNX ops that read a weight, and the axis of its output channels. An
# embedding table (read by Gather) stays float: in int8 it moved a small
# GPT's probabilities by 0.054, against 0.033 with it kept.
_WEIGHT_AXIS = {
    "MatMul": 1,
    "Gemm": 1,
    "Conv": 0,
    "ConvTranspose": 1,
    "LSTM": 1,  # W, R: (directions, gates x units, inputs)
    "GRU": 1,
}
_SMALLEST_QUANTIZED = 1024  # elements; as LiteRT, small tensors stay float


def _nodes_within(graph):
    """The graph's nodes and those of its loops' and branches' bodies (a
    recurrent kernel is read inside the loop, by the outer name)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for body in [attribute.g, *attribute.graphs]:
                if body.node:
                    yield from _nodes_within(body)


def _quantize_onnx_weights(graph) -> None:
    """Store each large weight as int8 with a per-channel scale, read back
    through `DequantizeLinear` (symmetric: zero point 0)."""
    from onnx import helper, numpy_helper

    readers = {}
    for node in _nodes_within(graph):
        for name in node.input:
            readers.setdefault(name, set()).add(node.op_type)
    kept, dequantize = [], []
    for init in graph.initializer:
        weight = numpy_helper.to_array(init)
        # A loop or branch only hands the weight on to its body, which reads
        # the dequantized tensor by the same name.
        ops = readers.get(init.name, set()) - {"Loop", "Scan", "If"}
        axes = {_WEIGHT_AXIS.get(op) for op in ops}
        if (
            weight.dtype != np.float32
            or weight.size < _SMALLEST_QUANTIZED
            or not axes
            or None in axes
            or len(axes) != 1
            or weight.ndim <= max(axes)
        ):
            kept.append(init)
            continue
        axis = axes.pop()
        other = tuple(a for a in range(weight.ndim) if a != axis)
        scale = np.max(np.abs(weight), axis=other) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = [1] * weight.ndim
        shape[axis] = -1
        quantized = np.clip(np.rint(weight / scale.reshape(shape)), -127, 127)
        kept += [
            numpy_helper.from_array(quantized.astype(np.int8), init.name + "_int8"),
            numpy_helper.from_array(scale, init.name + "_scale"),
            numpy_helper.from_array(
                np.zeros(scale.shape, np.int8), init.name + "_zero_point"
            ),
        ]
        dequantize.append(
            helper.make_node(
                "DequantizeLinear",
                [init.name + "_int8", init.name + "_scale", init.name + "_zero_point"],
                [init.name],
                axis=axis,
                name=init.name + "_dequantize",
            )
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = dequantize + list(graph.node)  # read before any op uses them
    del graph.node[:]
    graph.node.extend(nodes)


def _rename(graph, names: dict) -> None:
    """Give the graph's inputs and output the exported function's names."""
    for value in (*graph.input, *graph.output):
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]


def _onnx_known(node) -> bool:
    # tf2onnx keeps a TensorFlow op it cannot map under its own name (a
    # graph onnxruntime then refuses); an ONNX op's schema exists.
    import onnx

    try:
        onnx.defs.get_schema(node.op_type, ONNX_OPSET, node.domain or "")
        return True
    except onnx.defs.SchemaError:
        return False


_registered = []


def _register_onnx_mappings():
    """Small mappings tf2onnx lacks: `Erfc(x) = 1 - Erf(x)` (exact GELU)."""
    if _registered:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841  (registered by the decorator)
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
            one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, dtype))
            out = node.output[0]
            ctx.insert_new_node_on_output(
                "Sub",
                out,
                inputs=[one.output[0], out],
                name=utils.make_name(node.name + "_one_minus"),
            )

    _registered.append(Erfc)


def _write_litert(serving, path, quantize):
    import tensorflow as tf

    # No trackable object: the converter then freezes the variables the
    # function captures (given the module, it left them unset: NaN out).
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serving.function.get_concrete_function()]
    )
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # the converter's own ConverterError
        ops = re.findall(r"'?tf\.(\w+)'? op", str(error)) or re.findall(
            r"Flex ops: ([\w, ]+)", str(error)
        )
        if ops:
            raise UnsupportedOpError("litert", sorted(set(ops))) from None
        raise
    with open(path, "wb") as f:
        f.write(flatbuffer)


def size_of(path: str) -> int:
    """Bytes of a file, or of every file under a folder."""
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(path)
            for f in files
        )
    return os.path.getsize(path)


def remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def runner(fmt: str, path: str):
    """A callable `run(*arrays) -> np.ndarray` over the artifact at `path`.

    The artifact is opened in its own runtime; inputs are NumPy arrays in
    the order of the exported function's inputs; the one output comes back.
    """
    if fmt == "saved_model":
        return _saved_model_runner(path)
    if fmt == "onnx":
        return _onnx_runner(path)
    return _litert_runner(path)


def _saved_model_runner(path):
    import tensorflow as tf

    function = tf.saved_model.load(path).signatures["serving_default"]
    names = sorted(function.structured_input_signature[1], key=_input_index)

    def run(*arrays):
        out = function(**dict(zip(names, map(tf.constant, arrays), strict=True)))
        return next(iter(out.values())).numpy()

    return run


def _onnx_runner(path):
    ort = _require("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(*arrays):
        return session.run(None, dict(zip(names, arrays, strict=True)))[0]

    return run


def _litert_runner(path):
    interpreter_module = _require("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=path)
    inputs = interpreter.get_input_details()
    output = interpreter.get_output_details()[0]
    # The converter may order inputs by name; match them by name.
    order = sorted(range(len(inputs)), key=lambda i: _input_index(inputs[i]["name"]))

    def run(*arrays):
        for slot, array in zip(order, arrays, strict=True):
            interpreter.resize_tensor_input(inputs[slot]["index"], array.shape)
        interpreter.allocate_tensors()
        for slot, array in zip(order, arrays, strict=True):
            interpreter.set_tensor(inputs[slot]["index"], array)
        interpreter.invoke()
        return np.array(interpreter.get_tensor(output["index"]))

    return run


def _input_index(name: str) -> int:
    found = re.search(r"input_(\d+)", name)
    return int(found.group(1)) if found else 0
