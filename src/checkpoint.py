"""Checkpoint files: atomic, checksummed saving and strict loading.

Training checkpoints are named `{prefix}-{epoch}_{step}.ckpt` (MindSpore's scheme, as the zoo's
`melgan_20-215_176000.ckpt`); `list_checkpoints` and `prune_checkpoints` find and thin them.

Layout of a training checkpoint (written by src/training.py): generator and discriminator parameters
under their zoo names (`conv1d_1.conv.weight`, `dis1.conv2.0.conv.weight`, ...), optimizer states
under `optimizer_g.` / `optimizer_d.`, and scalars `epoch`, `step`, `loss_scale`. The zoo's public
generator-only checkpoint is the same names without the rest, so one loader serves both.
"""
import os
import re

import mindspore as ms
from mindspore.train import serialization as _serialization

from src.errors import CheckpointError
from src.fileio import check_input_file, write_atomically


def _mem_available_bytes():
    """MemAvailable from /proc/meminfo: free memory plus what the kernel can reclaim (page cache)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _ORIGINAL_AVAILABLE_MEMORY()


# MindSpore 2.10's load_checkpoint refuses a file larger than *free* memory (SC_AVPHYS_PAGES), which
# leaves out the page cache: after writing a few 1 GB training checkpoints, Linux's free memory is
# small while gigabytes are reclaimable, and resuming fails ("protobuf content size ... exceeds current
# available memory"). Ask the kernel's MemAvailable instead, which counts reclaimable cache.
if hasattr(_serialization, "_get_available_memory"):
    _ORIGINAL_AVAILABLE_MEMORY = _serialization._get_available_memory
    if os.path.exists("/proc/meminfo"):
        _serialization._get_available_memory = _mem_available_bytes


def save_checkpoint(save_obj, path, append_dict=None):
    """Save atomically with a CRC: a kill at any moment leaves the previous file intact.

    `save_obj` is a Cell or a list of {"name", "data"} dicts (mindspore.save_checkpoint's input).
    """
    def write(tmp):
        os.remove(tmp)  # mindspore.save_checkpoint wants to create the file itself (and may add .ckpt)
        try:
            ms.save_checkpoint(save_obj, tmp, append_dict=append_dict, crc_check=True)
        except BaseException:
            # a failed save (a full disk) leaves MindSpore's own partial file, NAME.tmp, behind
            for leftover in (tmp + ".tmp", tmp + ".ckpt.tmp"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            raise
    write_atomically(path, write, written_as=(".ckpt",))


def tensor_bytes(tensors):
    """About the size of a checkpoint file holding these tensors (or Parameters): their bytes."""
    return sum(t.size * t.itemsize for t in tensors)


def read_checkpoint(path):
    """Load a checkpoint file into a dict of name -> Parameter, with clear one-line errors."""
    path = str(path)
    check_input_file(path, "checkpoint", CheckpointError)
    try:
        # crc_check=True verifies files saved with a CRC and still reads ones saved without.
        params = ms.load_checkpoint(path, crc_check=True)
    except (ValueError, RuntimeError, TypeError, OSError) as e:
        if "exceeds current available memory" in str(e):
            raise CheckpointError(f"{path}: not enough free memory to load this {os.path.getsize(path) >> 20} MB "
                                  f"checkpoint") from None
        raise CheckpointError(f"{path}: damaged or not a MindSpore checkpoint (failed to parse or checksum "
                              f"mismatch: {str(e).splitlines()[0][:120]})") from None
    if not params:
        raise CheckpointError(f"{path}: checkpoint holds no parameters")
    return params


def _strip_to(net_names, params):
    """Map each of the net's parameter names to the checkpoint key that holds it.

    Accepts exact names and names under one wrapper prefix (e.g. `generator.` or `network.`),
    never optimizer states (`moment1.`, `optimizer_g.` ...).
    """
    skip = ("moment1.", "moment2.", "optimizer_", "beta1_power", "beta2_power", "learning_rate", "global_step")
    keys = [k for k in params if not any(s in k for s in skip)]
    mapping = {}
    for name in net_names:
        if name in params:
            mapping[name] = name
            continue
        hits = [k for k in keys if k.endswith("." + name)]
        if len(hits) == 1:
            mapping[name] = hits[0]
    return mapping


def load_into(net, params, path, what="network"):
    """Load `params` (from read_checkpoint) into `net`; a missing parameter is an error.

    mindspore.load_param_into_net only warns about missing parameters, leaving them random;
    here any parameter the net has but the file lacks stops with a message naming the file.
    """
    net_names = [p.name for p in net.get_parameters()]
    mapping = _strip_to(net_names, params)
    if not mapping:
        raise CheckpointError(f"{path}: not a MelGAN {what} checkpoint (none of its {len(net_names)} parameters, "
                              f"e.g. '{net_names[0]}', are in the file)")
    missing = [n for n in net_names if n not in mapping]
    if missing:
        raise CheckpointError(f"{path}: {len(missing)} {what} parameter(s) missing from the checkpoint, "
                              f"e.g. '{missing[0]}'")
    selected = {}
    for name, key in mapping.items():
        param = params[key]
        selected[name] = ms.Parameter(param.data if isinstance(param, ms.Parameter) else param, name=name)
    try:
        not_loaded, _ = ms.load_param_into_net(net, selected, strict_load=True)
    except (ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: does not fit the {what} ({str(e).splitlines()[0][:160]})") from None
    if not_loaded:
        raise CheckpointError(f"{path}: {len(not_loaded)} {what} parameter(s) not loaded, e.g. '{not_loaded[0]}'")
    return net


def scalar(params, key, default=None):
    """A scalar stored with append_dict (epoch, step, loss_scale), as a Python number."""
    if key not in params:
        return default
    value = params[key]
    value = value.asnumpy() if hasattr(value, "asnumpy") else value
    try:
        return value.item()
    except AttributeError:
        return value


def checkpoint_name(prefix, epoch, step):
    """MindSpore's naming: {prefix}-{epoch}_{step}.ckpt (as melgan_20-215_176000.ckpt)."""
    return f"{prefix}-{epoch}_{step}.ckpt"


def checkpoint_step(path, prefix):
    """The step in a `{prefix}-{epoch}_{step}.ckpt` name, None for any other name."""
    match = re.match(re.escape(prefix) + r"-(\d+)_(\d+)\.ckpt$", os.path.basename(str(path)))
    return int(match.group(2)) if match else None


def list_checkpoints(directory, prefix):
    """The `{prefix}-{epoch}_{step}.ckpt` files in `directory`, oldest (lowest step) first."""
    found = []
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        step = checkpoint_step(name, prefix)
        if step is not None:
            found.append((step, name))
    return [os.path.join(directory, name) for _, name in sorted(found)]


def prune_checkpoints(directory, prefix, keep):
    """Remove the oldest checkpoints beyond `keep` (keep <= 0 keeps all); returns the removed paths."""
    if keep <= 0:
        return []
    paths = list_checkpoints(directory, prefix)
    removed = paths[:-keep] if len(paths) > keep else []
    for path in removed:
        os.remove(path)
    return removed
