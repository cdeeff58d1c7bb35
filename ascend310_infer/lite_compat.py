"""Make a MINDIR written by MindSpore 2.10 loadable by the MindSpore Lite 2.0 C++ runtime.

Runtime compatibility only (an older runtime reading a newer file); `export.py` keeps writing the
standard MINDIR. The PyPI `mindspore-lite==2.0.0` SDK that `build.sh` fetches refuses the file
("can only support the maximum mind ir version: 1 ... mind ir version: 3") and, once past that,
misreads two operators. This rewrites, in the protobuf (`mindspore.train.mind_ir_pb2`):

1. `ModelProto.mind_ir_version` -> 1;
2. BiasAdd: drop its third input (the data format as a constant) and carry the format as a
   `format` / `data_format` attribute "NCHW" instead, as older files did;
3. `Conv2DBackpropInput` (what `nn.Conv1dTranspose` exports) -> `Conv2DTranspose`: Lite maps the
   former to a training-only kernel (`Unsupported parameter type in Create : Conv2DBackpropInputFusion`);
4. with a dynamic frame axis only: ExpandDims' axis, a scalar INT64 constant, -> a one-element INT32
   tensor constant; Lite then infers shapes itself and otherwise fails ("Expanddims's second-input's
   data shouldn't a nullptr"). A fixed-shape model keeps the scalar (Lite fails on the tensor there).

    python ascend310_infer/lite_compat.py IN.mindir OUT.mindir
"""
import functools
import importlib
import importlib.util
import os
import sys

# The repository root, for `src` (this file also runs as a script from its own folder).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.cli import run_main  # noqa: E402
from src.errors import UserError  # noqa: E402
from src.fileio import write_bytes  # noqa: E402

LITE_MAX_MIND_IR_VERSION = 1


class CompatError(UserError):
    """A MINDIR this rewrite cannot handle; one line."""


PROTO = "mindspore.train.mind_ir_pb2"


@functools.lru_cache(maxsize=None)
def _pb2():
    """MindSpore's generated MINDIR protobuf module, loaded from the installed package without
    importing MindSpore itself (~3 s, and this step runs once per run_infer_cpp.sh call)."""
    if "mindspore" in sys.modules:
        return importlib.import_module(PROTO)
    found = importlib.util.find_spec("mindspore")
    if found is None:
        raise CompatError("mindspore is not installed: its MINDIR protobuf definition (mind_ir_pb2) is needed")
    path = os.path.join(found.submodule_search_locations[0], "train", "mind_ir_pb2.py")
    spec = importlib.util.spec_from_file_location(PROTO, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[PROTO] = module  # a later `import mindspore` reuses it (one descriptor pool entry)
    return module


def _string_attr(container, name, value):
    mind_ir_pb2 = _pb2()

    for attr in container.attribute:
        if attr.name == name:
            attr.s = value.encode()
            return
    attr = container.attribute.add()
    attr.name = name
    attr.s = value.encode()
    attr.type = mind_ir_pb2.AttributeProto.STRING


def _prim_name(op_type):
    """Node op_type `REF::BiasAdd:9` -> primitive name `BiasAdd:9`."""
    return op_type[len("REF::"):] if op_type.startswith("REF::") else op_type


def _has_dynamic_input(graph):
    return any(d < 0 for value in graph.input for tensor in value.tensor for d in tensor.dims)


def _int32_tensor_constant(name, value):
    """A Constant node holding `value` as a one-element INT32 tensor."""
    import numpy as np
    mind_ir_pb2 = _pb2()

    node = mind_ir_pb2.NodeProto()
    node.name = name
    node.op_type = "Constant"
    node.output.append(name)
    attr = node.attribute.add()
    attr.name = "value"
    attr.type = mind_ir_pb2.AttributeProto.TENSORS
    tensor = attr.tensors.add()
    tensor.data_type = mind_ir_pb2.TensorProto.INT32
    tensor.dims.append(1)
    tensor.raw_data = np.array([value], np.int32).tobytes()
    return node


def _expand_dims_axes_as_tensors(graph, op_of):
    """Give every ExpandDims whose axis is a scalar INT64 constant its own tensor constant (placed
    right after the scalar one); other users of the scalar (shape arithmetic) keep it. Returns a count."""
    mind_ir_pb2 = _pb2()

    scalars = {n.output[0]: n for n in graph.node if n.op_type == "Constant" and n.attribute
               and n.attribute[0].type == mind_ir_pb2.AttributeProto.INT64}
    tensors = {}
    for node in graph.node:
        if op_of(node) == "ExpandDims" and len(node.input) > 1 and node.input[1] in scalars:
            scalar = node.input[1]
            if scalar not in tensors:
                tensors[scalar] = _int32_tensor_constant(scalar + "_int32_tensor", scalars[scalar].attribute[0].i)
            node.input[1] = tensors[scalar].name
    if tensors:
        nodes = []
        for node in graph.node:
            nodes.append(node)
            if node.op_type == "Constant" and node.output[0] in tensors:
                nodes.append(tensors[node.output[0]])
        del graph.node[:]
        graph.node.extend(nodes)
    return len(tensors)


def rewrite(model):
    """Rewrite a parsed ModelProto in place; returns counts of what changed."""
    changed = {"bias_add": 0, "conv_transpose": 0, "expand_dims_axis": 0}
    model.mind_ir_version = min(model.mind_ir_version, LITE_MAX_MIND_IR_VERSION)
    primitives = {p.name: p for p in model.primitives}

    def op_of(node):
        prim = primitives.get(_prim_name(node.op_type))
        return prim.op_type if prim is not None else _prim_name(node.op_type).split(":")[0]

    graphs = [model.graph] + list(model.functions)
    for graph in graphs:
        if _has_dynamic_input(graph):  # (a fixed-shape graph must keep the scalar: Lite folds it)
            changed["expand_dims_axis"] += _expand_dims_axes_as_tensors(graph, op_of)
        for node in graph.node:
            prim = primitives.get(_prim_name(node.op_type))
            op = op_of(node)
            if op == "BiasAdd" and len(node.input) == 3:
                del node.input[2]
                _string_attr(node, "format", "NCHW")
                _string_attr(node, "data_format", "NCHW")
                if prim is not None:
                    _string_attr(prim, "format", "NCHW")
                    _string_attr(prim, "data_format", "NCHW")
                changed["bias_add"] += 1
    for prim in model.primitives:
        if prim.op_type == "Conv2DBackpropInput":
            prim.op_type = "Conv2DTranspose"
            changed["conv_transpose"] += 1
    return changed


def convert(src, dst):
    mind_ir_pb2 = _pb2()

    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CompatError(f"{src}: cannot read the model ({e.strerror})") from None
    model = mind_ir_pb2.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # protobuf's DecodeError and friends
        raise CompatError(f"{src}: not a MINDIR model (protobuf parse failed)") from None
    if not model.graph.node:
        raise CompatError(f"{src}: not a MINDIR model (no graph)")
    changed = rewrite(model)
    write_bytes(dst, model.SerializeToString())
    return changed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: python ascend310_infer/lite_compat.py IN.mindir OUT.mindir")
    changed = run_main(lambda: convert(argv[0], argv[1]))
    print(f"lite_compat: {argv[1]} (mind_ir_version {LITE_MAX_MIND_IR_VERSION}, "
          f"{changed['bias_add']} BiasAdd, {changed['conv_transpose']} Conv2DTranspose, "
          f"{changed['expand_dims_axis']} ExpandDims axis rewritten)")


if __name__ == "__main__":
    main()
