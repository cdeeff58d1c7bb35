"""Make a MINDIR written by MindSpore 2.10 loadable by the MindSpore Lite 2.0 C++ runtime.

Runtime compatibility only (an older runtime reading a newer file); `export.py` keeps writing the
standard MINDIR. The PyPI `mindspore-lite==2.0.0` SDK that `build.sh` fetches refuses the file
("can only support the maximum mind ir version: 1 ... mind ir version: 3") and, once past that,
misreads two operators. This rewrites, in the protobuf (`mindspore.train.mind_ir_pb2`):

1. `ModelProto.mind_ir_version` -> 1;
2. BiasAdd: drop its third input (the data format as a constant) and carry the format as a
   `format` / `data_format` attribute "NCHW" instead, as older files did;
3. `Conv2DBackpropInput` (what `nn.Conv1dTranspose` exports) -> `Conv2DTranspose`: Lite maps the
   former to a training-only kernel (`Unsupported parameter type in Create : Conv2DBackpropInputFusion`).

    python ascend310_infer/lite_compat.py IN.mindir OUT.mindir
"""
import os
import sys
import tempfile

LITE_MAX_MIND_IR_VERSION = 1


class CompatError(Exception):
    pass


def _string_attr(container, name, value):
    from mindspore.train import mind_ir_pb2

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


def rewrite(model):
    """Rewrite a parsed ModelProto in place; returns counts of what changed."""
    changed = {"bias_add": 0, "conv_transpose": 0}
    model.mind_ir_version = min(model.mind_ir_version, LITE_MAX_MIND_IR_VERSION)
    primitives = {p.name: p for p in model.primitives}
    graphs = [model.graph] + list(model.functions)
    for graph in graphs:
        for node in graph.node:
            prim = primitives.get(_prim_name(node.op_type))
            op = prim.op_type if prim is not None else _prim_name(node.op_type).split(":")[0]
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
    from mindspore.train import mind_ir_pb2

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
    directory = os.path.dirname(os.path.abspath(dst))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dst) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return changed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: python ascend310_infer/lite_compat.py IN.mindir OUT.mindir")
    try:
        changed = convert(argv[0], argv[1])
    except CompatError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"lite_compat: {argv[1]} (mind_ir_version {LITE_MAX_MIND_IR_VERSION}, "
          f"{changed['bias_add']} BiasAdd, {changed['conv_transpose']} Conv2DTranspose rewritten)")


if __name__ == "__main__":
    main()
