"""One way to damage a file for the bad-checkpoint tests of every entry point."""
import numpy as np

KINDS = ("empty", "truncated", "garbage", "flipped")


def damage_file(path, how):
    """Overwrite `path` with an empty, half-length, random-bytes or one-bit-flipped copy of itself."""
    data = bytearray(open(path, "rb").read())
    if how == "empty":
        data = b""
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "garbage":
        data = np.random.default_rng(0).bytes(4096)
    elif how == "flipped":
        data[len(data) // 2] ^= 0x10
    else:
        raise ValueError(f"unknown damage {how!r}")
    with open(path, "wb") as f:
        f.write(bytes(data))
