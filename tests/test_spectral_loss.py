"""The fast recipe's spectral losses (src/spectral_loss.py) against librosa/NumPy computations."""
import librosa
import mindspore as ms
import numpy as np
import pytest
from mindspore import ops

from src.features import ZOO
from src.spectral_loss import (PWG_RESOLUTIONS, MelL1Loss, MultiResolutionSTFTLoss, SpectralLoss,
                               STFTMagnitude)


def _signals(rng, batch=2, n=4096):
    t = np.arange(n) / 22050.0
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    real = tone + 0.05 * rng.standard_normal((batch, n))
    fake = 0.2 * rng.standard_normal((batch, n))
    return real[:, None].astype(np.float32), fake[:, None].astype(np.float32)


def _mag(x, n_fft, hop, win):
    spec = np.abs(librosa.stft(x.astype(np.float64), n_fft=n_fft, hop_length=hop, win_length=win, window="hann",
                               center=True, pad_mode="reflect"))
    return np.sqrt(np.maximum(spec ** 2, 1e-7))


@pytest.mark.parametrize("resolution", PWG_RESOLUTIONS + ((1024, 256, 1024),))
def test_stft_magnitude_matches_librosa(rng, resolution):
    real, _ = _signals(rng)
    got = STFTMagnitude(*resolution)(ms.Tensor(real)).asnumpy()
    for b in range(real.shape[0]):
        want = _mag(real[b, 0], *resolution)
        assert got[b].shape == want.shape
        np.testing.assert_allclose(got[b], want, rtol=1e-4, atol=2e-5)


def test_multi_resolution_stft_loss_matches_numpy(rng):
    real, fake = _signals(rng)
    sc_sum, mag_sum = 0.0, 0.0
    for res in PWG_RESOLUTIONS:
        r = np.stack([_mag(x[0], *res) for x in real])
        f = np.stack([_mag(x[0], *res) for x in fake])
        sc_sum += np.linalg.norm(r - f) / np.linalg.norm(r)  # Frobenius over the whole batch, as PWG
        mag_sum += np.mean(np.abs(np.log(r) - np.log(f)))
    want = (sc_sum + mag_sum) / len(PWG_RESOLUTIONS)
    got = float(MultiResolutionSTFTLoss()(ms.Tensor(fake), ms.Tensor(real)).asnumpy())
    assert want > 0.5 and abs(got - want) < 1e-4 * want


def test_mel_l1_loss_is_the_spec_log_mel_distance(rng):
    real, fake = _signals(rng)
    want = np.mean([np.abs(ZOO.log_mel(r[0]) - ZOO.log_mel(f[0])) for r, f in zip(real, fake)])
    got = float(MelL1Loss()(ms.Tensor(fake), ms.Tensor(real)).asnumpy())
    assert want > 0.5 and abs(got - want) < 1e-4 * want


def test_identical_signals_give_zero_loss(rng):
    real, _ = _signals(rng)
    x = ms.Tensor(real)
    for loss in (MultiResolutionSTFTLoss(), MelL1Loss(), SpectralLoss(1.0, 45.0)):
        assert float(loss(x, x).asnumpy()) == pytest.approx(0.0, abs=1e-6)


def test_weights_and_gradient(rng):
    real, fake = _signals(rng)
    r, f = ms.Tensor(real), ms.Tensor(fake)
    stft, mel = float(MultiResolutionSTFTLoss()(f, r).asnumpy()), float(MelL1Loss()(f, r).asnumpy())
    combined = float(SpectralLoss(2.0, 45.0)(f, r).asnumpy())
    assert combined == pytest.approx(2.0 * stft + 45.0 * mel, rel=1e-5)
    # Differentiable through the DFT convolution and the reflect padding: finite, non-zero, and a
    # small step against it lowers the loss.
    loss = SpectralLoss(1.0, 1.0)
    grad = ops.GradOperation()(loss)(f, r).asnumpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    stepped = ms.Tensor(fake - 1e-3 * grad / np.abs(grad).max())
    assert float(loss(stepped, r).asnumpy()) < stft + mel
    with pytest.raises(ValueError, match="stft_loss_weight"):
        SpectralLoss(0.0, 0.0)
