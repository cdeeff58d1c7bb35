"""Export the generator of a checkpoint to MINDIR, AIR or ONNX (the zoo's export.py), or to CKPT.

    python export.py --format MINDIR --checkpoint_path melgan.ckpt [--model_name melgan]
                     [--eval_length 240] [--dynamic_length True] [--verify]

The model's input is the normalized log-mel `[1, mel_num, eval_length]` (the zoo's fixed window);
`--dynamic_length True` makes the MINDIR's frame axis dynamic. ONNX is written directly from the
checkpoint's weights (`src/onnx_graph.py`: Conv/LeakyRelu/Tanh, padding inside the convs), always
with a dynamic frame axis `[N, mel_num, T]`, the graph onnxruntime and OpenVINO serve fastest. CKPT is
the generator alone (17 MB; a training checkpoint also holds the discriminator and both optimizers,
about 1 GB), the file to share.
The checkpoint's settings (features, upsampling; src/settings.py) travel inside ONNX (metadata) and
CKPT files, and in `NAME.mindir.json` (`NAME.air.json`) beside a MINDIR (AIR). `--verify` loads the
exported file back (MINDIR through `mindspore.load` + `nn.GraphCell`, ONNX through onnxruntime, CKPT
as a Generator) and compares with the checkpoint's output before the file gets its final name. The
file is written under a temporary name and renamed, so an interrupted export never leaves a
half-written model under the final name.
"""
import os
import sys

import numpy as np

from src.cli import check_device_target, run_main
from src.errors import CheckpointError, UserError
from src.fileio import check_input_file, check_writable, remove_stale_temps, write_atomically, write_text
from src.settings import check_declared, sidecar_path

FORMATS = {"MINDIR": ".mindir", "AIR": ".air", "ONNX": ".onnx", "CKPT": ".ckpt"}
# The seed documents `--format` and `--model_name`; config.yaml calls them file_format / file_name.
ALIASES = {"--format": "--file_format", "--model_name": "--file_name"}
VERIFY_TOLERANCE = 1e-4


class ExportError(UserError):
    """One-line reason an export cannot be done."""


def translate_argv(argv):
    """Map the seed's flag names onto config keys; a bare `--verify` means `--verify True`."""
    out = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in ALIASES:
            arg = ALIASES[name] + eq + value
        out.append(arg)
        if arg == "--verify" and (i + 1 == len(argv) or argv[i + 1].startswith("--")):
            out.append("True")
    return out


def output_path(file_name, file_format):
    suffix = FORMATS[file_format]
    return file_name if file_name.lower().endswith(suffix) else file_name + suffix


def check_options(cfg):
    """Validate the export settings before any heavy work; returns (format, final output path)."""
    fmt = str(cfg.file_format).upper()
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}, got {cfg.file_format!r}")
    if cfg.eval_length <= 0:
        raise ExportError(f"eval_length must be positive, got {cfg.eval_length}")
    if cfg.dynamic_length and fmt == "AIR":
        raise ExportError(f"a dynamic frame axis (--dynamic_length True) is supported for MINDIR and ONNX; "
                          f"MindSpore's AIR export needs a fixed input, e.g. --eval_length {cfg.eval_length}")
    if fmt == "AIR" and cfg.device_target != "Ascend":
        raise ExportError(f"AIR export needs an Ascend device (device_target is {cfg.device_target}); "
                          f"use --format MINDIR or ONNX here, or run with --device_target Ascend on Ascend")
    if not cfg.checkpoint_path:
        raise ExportError("--checkpoint_path is required")
    if not cfg.file_name or cfg.file_name.endswith(("/", os.sep)):
        raise ExportError(f"--model_name must name a file, got {cfg.file_name!r}")
    return fmt, os.path.abspath(output_path(cfg.file_name, fmt))


def export_to(net, example, fmt, tmp):
    """Write the model to `tmp` (an atomic write's temp file, ending in the format's extension).

    MindSpore accepts only [0-9a-zA-Z@_-.:/\\] in file names, so it exports inside tmp's folder under
    a relative name: tmp's own when it qualifies, else a plain one moved onto tmp afterwards.
    """
    import mindspore as ms

    if fmt == "ONNX":  # `net` is the onnx.ModelProto from src.onnx_graph
        with open(tmp, "wb") as f:
            f.write(net.SerializeToString())
        return
    if fmt == "CKPT":  # the generator alone with its settings: the file users share
        from src.model import save_generator

        save_generator(net, tmp, net.settings)
        return
    directory, name = os.path.split(tmp)
    if not all(c.isalnum() or c in "@_-.:" for c in name):
        name = f".export.{os.getpid()}.tmp{FORMATS[fmt]}"  # a temp name remove_stale_temps knows
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        ms.export(net, example, file_name=name, file_format=fmt)
    finally:
        os.chdir(cwd)
    written = os.path.join(directory, name)
    if not os.path.isfile(written):
        raise ExportError(f"{tmp}: MindSpore reported no error but wrote no {fmt} file")
    os.replace(written, tmp)


def verification_input(mel_num, frames, seed=0):
    """A deterministic normalized-mel-like input ((log_mel + 5) / 5 lies roughly in [-1.3, 1.4])."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.3, 1.0, size=(1, mel_num, frames)).astype(np.float32)


def run_exported(path, fmt, mel):
    """Run an exported MINDIR (mindspore.load + GraphCell), ONNX (onnxruntime) or generator CKPT
    (loaded back as a Generator from its own settings) file on `mel`."""
    if fmt == "CKPT":
        import mindspore as ms
        from src.model import load_generator

        return load_generator(path)(ms.Tensor(mel)).asnumpy()
    if fmt == "MINDIR":
        import mindspore as ms

        graph = ms.nn.GraphCell(ms.load(path))
        return graph(ms.Tensor(mel)).asnumpy()
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: mel})[0]


def verify(path, fmt, generator, mel_num, lengths):
    """Compare the exported file with the checkpoint's generator; returns [(frames, max_abs_diff)]."""
    import mindspore as ms

    results = []
    for frames in lengths:
        mel = verification_input(mel_num, frames)
        expected = generator(ms.Tensor(mel)).asnumpy()
        got = run_exported(path, fmt, mel)
        if got.shape != expected.shape:
            raise ExportError(f"{path}: verification failed: output shape {got.shape}, checkpoint gives "
                              f"{expected.shape} for {frames} frames")
        diff = float(np.max(np.abs(got - expected)))
        if not diff <= VERIFY_TOLERANCE:
            raise ExportError(f"{path}: verification failed: max |exported - checkpoint| = {diff:.3g} "
                              f"> {VERIFY_TOLERANCE:g} at {frames} frames")
        results.append((frames, diff))
    return results


def export(cfg):
    """Export cfg.checkpoint_path's generator as cfg.file_format; returns the final path."""
    fmt, path = check_options(cfg)
    # (src.checkpoint checks it too, after MindSpore's ~2 s import: a mistyped path fails at once)
    check_input_file(cfg.checkpoint_path, "checkpoint", CheckpointError)
    check_device_target(cfg.device_target)
    check_writable(os.path.dirname(path), "exported model")
    remove_stale_temps(os.path.dirname(path), os.path.basename(path))
    remove_stale_temps(os.path.dirname(path), "export.")

    import mindspore as ms
    from src import cpu_dispatch

    if cfg.device_target == "CPU":
        print(cpu_dispatch.startup_line(), flush=True)
    try:
        cpu_dispatch.set_device(cfg.device_target, cfg.device_id)
    except (RuntimeError, ValueError) as e:
        raise ExportError(f"device {cfg.device_target} is not usable here ({str(e).splitlines()[0]})") from None

    from src.model import load_generator

    generator = load_generator(cfg.checkpoint_path, cfg.leaky_alpha)
    settings = generator.settings
    check_declared(cfg, settings, cfg.checkpoint_path)
    mel_num = settings.features.n_mels
    print(f"model settings: {settings.describe()}", flush=True)

    if cfg.dynamic_length:
        example = ms.Tensor(shape=[1, mel_num, None], dtype=ms.float32)
    else:
        example = ms.Tensor(np.zeros((1, mel_num, cfg.eval_length), np.float32))
    net = generator
    dynamic = cfg.dynamic_length or fmt in ("ONNX", "CKPT")
    if fmt == "ONNX":
        from src import onnx_graph

        try:
            import onnx  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError:
            raise ExportError("--format ONNX needs the Python package 'onnx', which is not installed "
                              "(pip install onnx as pinned in requirements.txt)") from None
        net = onnx_graph.from_generator(generator, cfg.leaky_alpha)

    shape = f"[1, {mel_num}, {'T (dynamic)' if dynamic else cfg.eval_length}]"
    print(f"exporting {cfg.checkpoint_path} as {fmt}, input {shape} -> {path}", flush=True)

    def write(tmp_path):  # the model gets its final name only once written (and verified)
        try:
            export_to(net, example, fmt, tmp_path)
        except (RuntimeError, ValueError, TypeError) as e:
            raise ExportError(f"{path}: {fmt} export failed ({str(e).strip().splitlines()[0][:200]})") from None
        if cfg.verify:
            if fmt == "AIR":
                print("verify: skipped (MindSpore cannot load AIR back; check it with ATC on the Ascend host)")
            else:
                lengths = [cfg.eval_length]
                if dynamic:
                    lengths.append(cfg.eval_length // 2 + 7)  # a second, unrelated length
                for frames, diff in verify(tmp_path, fmt, generator, mel_num, lengths):
                    print(f"verify: {frames} frames, max |exported - checkpoint| = {diff:.3g} "
                          f"(<= {VERIFY_TOLERANCE:g})", flush=True)
        if fmt in ("MINDIR", "AIR"):  # ONNX and CKPT carry the settings inside; MINDIR and AIR have no place
            write_text(sidecar_path(path), settings.to_json() + "\n")

    write_atomically(path, write, extension=FORMATS[fmt])
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.1f} MB)", flush=True)
    return path


def main(argv=None):
    from src.model_utils.config import get_config

    # MindSpore's INFO/WARNING lines (e.g. "ckpt file do not contain the crc code") would bury the
    # one-line messages of this tool; GLOG_v set by the user still wins.
    os.environ.setdefault("GLOG_v", "3")
    argv = translate_argv(list(sys.argv[1:] if argv is None else argv))
    return run_main(lambda: export(get_config(argv)))


if __name__ == "__main__":
    main()
