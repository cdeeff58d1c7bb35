"""Checkpoints: public names load with nothing missing; damage and foreign files are refused;
training checkpoints' names, listing and pruning."""
import os

import numpy as np
import pytest
import mindspore as ms

from src.checkpoint import (CheckpointError, checkpoint_name, checkpoint_step, list_checkpoints, load_into,
                            prune_checkpoints, read_checkpoint, save_checkpoint, scalar)
from src.model import Generator
from tests.damage import damage_file
from tests.spec_reference import SPEC_G_NAMES


def _public_style_ckpt(path, seed=0):
    """A checkpoint written the way the zoo's public one is: plain names, 4-D weights, no CRC."""
    ms.set_seed(seed)
    src = Generator(0.2)
    ms.save_checkpoint(src, str(path))  # plain MindSpore save, no wrapper, no CRC
    return src


def test_public_names_load_with_nothing_missing(tmp_path):
    path = tmp_path / "melgan_20-215_176000.ckpt"
    src = _public_style_ckpt(path, seed=11)
    params = ms.load_checkpoint(str(path))
    assert sorted(params) == sorted(SPEC_G_NAMES)
    ms.set_seed(99)
    dst = Generator(0.2)
    not_loaded, unused = ms.load_param_into_net(dst, params)
    assert not_loaded == [] and unused == []
    load_into(Generator(0.2), read_checkpoint(path), path, "generator")
    for a, b in zip(src.get_parameters(), dst.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_prefixed_names_load(tmp_path):
    ms.set_seed(4)
    src = Generator(0.2)
    items = [{"name": "generator." + p.name, "data": p.data} for p in src.get_parameters()]
    items += [{"name": "moment1.generator." + p.name, "data": p.data * 0} for p in src.get_parameters()]
    path = tmp_path / "wrapped.ckpt"
    save_checkpoint(items, str(path), append_dict={"epoch": 3, "step": 70})
    dst = load_into(Generator(0.2), read_checkpoint(path), path, "generator")
    np.testing.assert_array_equal(src.conv1d_1.conv.weight.asnumpy(), dst.conv1d_1.conv.weight.asnumpy())
    params = read_checkpoint(path)
    assert scalar(params, "epoch") == 3 and scalar(params, "step") == 70


def test_missing_parameter_is_an_error(tmp_path):
    ms.set_seed(0)
    items = [{"name": p.name, "data": p.data} for p in Generator(0.2).get_parameters() if p.name != "rses_2.block3.4.conv.bias"]
    path = tmp_path / "partial.ckpt"
    save_checkpoint(items, str(path))
    with pytest.raises(CheckpointError, match="rses_2.block3.4.conv.bias"):
        load_into(Generator(0.2), read_checkpoint(path), path, "generator")


def test_other_network_is_refused(tmp_path):
    path = tmp_path / "other.ckpt"
    save_checkpoint([{"name": "fc.weight", "data": ms.Tensor(np.ones((3, 3), np.float32))}], str(path))
    with pytest.raises(CheckpointError, match="not a MelGAN generator checkpoint"):
        load_into(Generator(0.2), read_checkpoint(path), path, "generator")


def test_wrong_shape_is_refused(tmp_path):
    ms.set_seed(0)
    items = [{"name": p.name, "data": p.data} for p in Generator(0.2).get_parameters()]
    items[0] = {"name": items[0]["name"], "data": ms.Tensor(np.ones((4, 4, 1, 7), np.float32))}
    path = tmp_path / "shape.ckpt"
    save_checkpoint(items, str(path))
    with pytest.raises(CheckpointError, match=str(path.name)):
        load_into(Generator(0.2), read_checkpoint(path), path, "generator")


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "flipped", "missing"])
def test_damaged_files_are_refused_with_one_line(tmp_path, damage):
    path = tmp_path / "g.ckpt"
    ms.set_seed(0)
    save_checkpoint(Generator(0.2), str(path))
    if damage == "missing":
        path.unlink()
    else:
        damage_file(path, damage)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_atomic_save_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a.ckpt"
    save_checkpoint(Generator(0.2), str(path))
    save_checkpoint(Generator(0.2), str(path))  # overwrite in place
    assert sorted(os.listdir(tmp_path)) == ["a.ckpt"]


def test_size_check_counts_reclaimable_page_cache():
    """MindSpore's own check uses free memory only, so 1 GB training checkpoints failed to load once
    the page cache had filled RAM; ours asks the kernel's MemAvailable (free + reclaimable)."""
    from mindspore.train import serialization

    with open("/proc/meminfo") as f:
        meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    got = serialization._get_available_memory()
    assert abs(got - meminfo["MemAvailable"]) < 0.05 * meminfo["MemTotal"]
    assert got >= meminfo["MemFree"] - 0.05 * meminfo["MemTotal"]


def test_names_list_oldest_first_and_prune_keeps_the_newest(tmp_path):
    assert checkpoint_name("melgan", 20, 176000) == "melgan-20_176000.ckpt"
    assert checkpoint_step("out/melgan-20_176000.ckpt", "melgan") == 176000
    assert checkpoint_step("melgan_20-215_176000.ckpt", "melgan") is None  # the zoo's public file: no run of ours
    for epoch, step in [(3, 40), (1, 10), (3, 30), (2, 20)]:
        (tmp_path / checkpoint_name("melgan", epoch, step)).write_bytes(b"x")
    (tmp_path / "other-1_5.ckpt").write_bytes(b"x")
    (tmp_path / "melgan-1_5.ckpt.bak").write_bytes(b"x")
    removed = prune_checkpoints(str(tmp_path), "melgan", 2)
    assert [os.path.basename(p) for p in removed] == ["melgan-1_10.ckpt", "melgan-2_20.ckpt"]
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path), "melgan")] == ["melgan-3_30.ckpt",
                                                                                         "melgan-3_40.ckpt"]
    assert prune_checkpoints(str(tmp_path), "melgan", 0) == []  # keep_checkpoint_max 0 keeps all
    assert sorted(os.listdir(tmp_path)) == ["melgan-1_5.ckpt.bak", "melgan-3_30.ckpt", "melgan-3_40.ckpt",
                                            "other-1_5.ckpt"]
