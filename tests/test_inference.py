"""Inference: zoo window mode, fast generator, Vocoder API, chunked and streaming output."""
import numpy as np
import pytest

from src.inference import merge_windows, num_windows, split_windows


# ---- zoo window mode (pure NumPy, shared with the C++ pre/post-processing) ----
@pytest.mark.parametrize("frames", [1, 100, 240, 241, 420, 450, 451, 1000])
def test_split_windows_shapes_and_normalisation(frames, rng):
    mel = rng.normal(-5, 2, (80, frames)).astype(np.float32)
    windows = split_windows(mel, 240)
    assert windows.dtype == np.float32 and windows.shape[1:] == (80, 240)
    assert windows.shape[0] == num_windows(frames, 240)
    # every frame is covered, windows start every 210 frames, padding is zero after normalisation
    rebuilt = np.zeros((80, (windows.shape[0] - 1) * 210 + 240), np.float32)
    for i, w in enumerate(windows):
        rebuilt[:, i * 210: i * 210 + 240] = w
    np.testing.assert_allclose(rebuilt[:, :frames], (mel + 5) / 5, rtol=0, atol=1e-6)
    assert np.all(rebuilt[:, frames:] == 0)
    assert (windows.shape[0] - 1) * 210 < frames  # no window made only of padding/overlap


def test_num_windows_is_minimal():
    assert [num_windows(t) for t in (1, 240, 241, 450, 451, 660, 661)] == [1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("frames", [50, 240, 300, 700])
def test_merge_windows_exact_length_and_crossfade(frames):
    count = num_windows(frames)
    # constant windows: a linear cross-fade of equal signals is that signal
    merged = merge_windows(np.full((count, 240 * 256), 0.25, np.float32), frames)
    assert merged.dtype == np.float32 and merged.shape == (frames * 256,)
    np.testing.assert_allclose(merged, 0.25, atol=1e-7)


def test_merge_windows_ramps_linearly_across_the_overlap():
    windows = np.stack([np.zeros(240 * 256, np.float32), np.ones(240 * 256, np.float32)])
    merged = merge_windows(windows, 450)
    seam = merged[210 * 256: 240 * 256]
    assert np.all(merged[: 210 * 256] == 0) and np.all(merged[240 * 256:] == 1)
    assert np.all(np.diff(seam) > 0)
    np.testing.assert_allclose(np.diff(seam), 1 / seam.size, atol=1e-6)
    np.testing.assert_allclose(seam[0] + seam[-1], 1.0, atol=1e-6)


def test_merge_windows_checks_its_input():
    with pytest.raises(ValueError, match="windows"):
        merge_windows(np.zeros((1, 240 * 256), np.float32), 300)
    with pytest.raises(ValueError, match="samples"):
        merge_windows(np.zeros((1, 100), np.float32), 10)
