"""SPEC §2 written out independently of src/model.py: the generator's checkpoint parameter names
and a NumPy forward pass (float64) to check the MindSpore networks against."""
import numpy as np

SPEC_G_NAMES = (
    ["conv1d_1.conv.weight", "conv1d_1.conv.bias"]
    + [f"conv1dtran_{i}.conv.{w}" for i in range(1, 5) for w in ("weight", "bias")]
    + [f"rses_{i}.{part}.conv.{w}" for i in range(1, 5) for b in (1, 2, 3)
       for part in (f"block{b}.2", f"block{b}.4", f"shortcut{b}") for w in ("weight", "bias")]
    + ["conv1d_2.conv.weight", "conv1d_2.conv.bias"]
)


# ---- an independent NumPy implementation of SPEC §2 ----
def _lrelu(x):
    return np.where(x > 0, x, 0.2 * x)


def _conv1d(x, w, b, pad=0, dilation=1):
    """x (C_in, L); w (C_out, C_in, 1, k) as MindSpore stores it; zero padding."""
    w = w[:, :, 0, :]
    k = w.shape[2]
    x = np.pad(x, ((0, 0), (pad, pad)))
    out_len = x.shape[1] - dilation * (k - 1)
    out = np.zeros((w.shape[0], out_len), dtype=np.float64)
    for j in range(k):
        out += w[:, :, j] @ x[:, j * dilation: j * dilation + out_len]
    return out + b[:, None]


def _conv_transpose1d(x, w, b, stride, pad):
    """x (C_in, L); w (C_in, C_out, 1, k): scatter each input sample, then crop `pad` each side."""
    w = w[:, :, 0, :]
    c_in, c_out, k = w.shape
    length = x.shape[1]
    full = np.zeros((c_out, (length - 1) * stride + k), dtype=np.float64)
    for j in range(k):
        full[:, j: j + (length - 1) * stride + 1: stride] += w[:, :, j].T @ x
    return full[:, pad: full.shape[1] - pad] + b[:, None]


def numpy_generator(p, mel):
    x = _lrelu(_conv1d(mel, p["conv1d_1.conv.weight"], p["conv1d_1.conv.bias"], pad=3))
    ups = [(8, 4), (8, 4), (2, 1), (2, 1)]
    for i, (s, pad) in enumerate(ups, start=1):
        x = _conv_transpose1d(x, p[f"conv1dtran_{i}.conv.weight"], p[f"conv1dtran_{i}.conv.bias"], s, pad)
        for blk, d in ((1, 1), (2, 3), (3, 9)):
            pre = f"rses_{i}"
            h = _lrelu(x)
            h = _conv1d(h, p[f"{pre}.block{blk}.2.conv.weight"], p[f"{pre}.block{blk}.2.conv.bias"], pad=d, dilation=d)
            h = _lrelu(h)
            h = _conv1d(h, p[f"{pre}.block{blk}.4.conv.weight"], p[f"{pre}.block{blk}.4.conv.bias"])
            x = h + _conv1d(x, p[f"{pre}.shortcut{blk}.conv.weight"], p[f"{pre}.shortcut{blk}.conv.bias"])
        x = _lrelu(x)
    return np.tanh(_conv1d(x, p["conv1d_2.conv.weight"], p["conv1d_2.conv.bias"], pad=3))
