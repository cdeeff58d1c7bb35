"""Each loss against a hand computation on small tensors (SPEC §4)."""
import numpy as np
import mindspore as ms

from src.loss import DiscriminatorLoss, GeneratorLoss, msq


def _outputs(rng, scales=3):
    """Fake discriminator outputs: per scale 6 feature maps and a score, shapes (B, C, T)."""
    result = []
    for _ in range(scales):
        feats = [rng.normal(size=(2, c, t)).astype(np.float32) for c, t in ((3, 8), (4, 4), (2, 2), (2, 2), (1, 2), (1, 2))]
        result.append(feats + [rng.normal(size=(2, 1, 2)).astype(np.float32)])
    return result


def _to_ms(outputs):
    return tuple(tuple(ms.Tensor(x) for x in scale) for scale in outputs)


def _msq_np(x):
    return float(np.mean(np.sum(x.astype(np.float64) ** 2, axis=(1, 2))))


def test_msq_is_batch_mean_of_sum():
    x = np.array([[[1.0, 2.0]], [[3.0, 0.0]]], dtype=np.float32)  # sums 5 and 9 -> mean 7
    assert abs(float(msq(ms.Tensor(x)).asnumpy()) - 7.0) < 1e-6


def _scores(outputs):
    return tuple(ms.Tensor(scale[-1]) for scale in outputs)


def test_discriminator_loss_by_hand():
    rng = np.random.default_rng(0)
    fake, real = _outputs(rng), _outputs(rng)
    want = sum(_msq_np(f[-1]) + _msq_np(r[-1] - 1.0) for f, r in zip(fake, real))
    got = float(DiscriminatorLoss()(_scores(fake), _scores(real)).asnumpy())
    assert abs(got - want) < 1e-4 * max(1.0, abs(want))


def test_training_discriminator_loss_is_the_loss_of_two_passes():
    """Training's DiscriminatorWithLoss runs fake and real through D as one 2B batch and applies
    DiscriminatorLoss to the split score maps: the same value as two separate passes."""
    from src.architecture import DISCRIMINATOR  # pylint: disable=import-outside-toplevel
    from src.model import MultiDiscriminator  # pylint: disable=import-outside-toplevel
    from src.trainer import DiscriminatorWithLoss  # pylint: disable=import-outside-toplevel

    ms.set_seed(0)
    discriminator = MultiDiscriminator(arch=DISCRIMINATOR.narrowed(16))
    rng = np.random.default_rng(3)
    fake, wav = (ms.Tensor(rng.uniform(-0.5, 0.5, (2, 1, 2048)).astype(np.float32)) for _ in range(2))
    want = sum(_msq_np(f[-1].asnumpy()) + _msq_np(r[-1].asnumpy() - 1.0)
               for f, r in zip(discriminator(fake), discriminator(wav)))
    got = float(DiscriminatorWithLoss(discriminator)(fake, wav).asnumpy())
    assert abs(got - want) < 1e-4 * max(1.0, abs(want))


def test_generator_loss_by_hand():
    rng = np.random.default_rng(1)
    fake, real = _outputs(rng), _outputs(rng)
    adv = sum(_msq_np(f[-1] - 1.0) for f in fake)
    feat = sum(float(np.mean(np.abs(f[j] - r[j]))) for f, r in zip(fake, real) for j in range(6))
    want = adv + 10.0 * feat
    got = float(GeneratorLoss()(_to_ms(fake), _to_ms(real)).asnumpy())
    assert abs(got - want) < 1e-4 * max(1.0, abs(want))


def test_perfect_fake_gives_zero_generator_loss():
    rng = np.random.default_rng(2)
    real = _outputs(rng)
    fake = [scale[:-1] + [np.ones_like(scale[-1])] for scale in real]  # same features, score 1
    assert abs(float(GeneratorLoss()(_to_ms(fake), _to_ms(real)).asnumpy())) < 1e-6
