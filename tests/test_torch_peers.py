"""The benchmarks' PyTorch peers (benchmarks/torch_peers.py) are the MindSpore networks: built from the
same src.architecture tables, the generator with a MindSpore generator's weights gives its output, and
the multi-scale discriminator has its parameter count. torch is a benchmark-only dependency
(requirements-bench.txt): without it this module is skipped."""
import numpy as np
import pytest
import mindspore as ms

torch = pytest.importorskip(
    "torch", reason="torch not installed (benchmark-only dependency: pip install -r requirements-bench.txt)")

from benchmarks import torch_peers  # noqa: E402
from src.architecture import DISCRIMINATOR, GENERATOR  # noqa: E402
from src.model import Generator, MultiDiscriminator, count_parameters  # noqa: E402


def test_generator_built_from_the_table_and_loaded_from_mindspore_weights_matches():
    ms.set_seed(7)
    net = Generator()
    rng = np.random.default_rng(7)
    for prm in net.get_parameters():  # non-zero biases too, so a bias left unloaded cannot hide
        if prm.name.endswith("bias"):
            prm.set_data(ms.Tensor(rng.normal(0, 0.05, prm.shape).astype(np.float32)))
    net.set_train(False)
    mel = rng.normal(0, 1, (1, GENERATOR.mel_channels, 12)).astype(np.float32)
    expected = net(ms.Tensor(mel)).asnumpy()

    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    peer = torch_peers.Generator()
    assert list(peer.convs_by_checkpoint_name()) == GENERATOR.conv_names()
    assert sum(p.numel() for p in peer.parameters()) == count_parameters(net)
    got = torch_peers.inference_runner(params, threads=1)(mel)

    assert got.shape == expected.shape == (1, 1, 12 * GENERATOR.hop)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_loader_names_a_missing_or_misshapen_parameter():
    params = {p.name: p.asnumpy() for p in Generator().get_parameters()}
    name = f"{GENERATOR.block_names(2, 3)[1]}.bias"
    with pytest.raises(KeyError, match=name):
        torch_peers.load_generator_weights(torch_peers.Generator(), {k: v for k, v in params.items() if k != name})
    with pytest.raises(ValueError, match=name):
        torch_peers.load_generator_weights(torch_peers.Generator(), dict(params, **{name: params[name][:-1]}))


def test_discriminator_built_from_the_same_table_has_the_mindspore_parameter_count():
    arch = DISCRIMINATOR.narrowed(16)
    peer = torch_peers.MultiDiscriminator(arch)
    assert sum(p.numel() for p in peer.parameters()) == count_parameters(MultiDiscriminator(arch))
    length = 4 ** 4 * 2  # divisible by every stride, so each scale's maps have whole lengths
    outputs = peer(torch.zeros(2, 1, length))
    assert len(outputs) == arch.scales and all(len(o) == len(arch.layers) for o in outputs)
    assert [o[-1].shape[1] for o in outputs] == [arch.layers[-1].out_channels] * arch.scales
