"""C++ inference, step 1: log-mel `.npy` files -> normalized, padded float32 windows (`.bin`).

Each mel `(80, T)` becomes the windows of `src.windows.split_windows` (SPEC §5: `eval_length`
frames, overlap `eval_length // 8`, (mel + 5) / 5, the last window zero-padded), written as raw
float32 `[1, 80, eval_length]` files `NAME_000.bin`, `NAME_001.bin`, ... that the C++ app reads.
`windows.json` beside them records each utterance's frame and window counts, the hop and the sample
rate for postprocess.py. With `--model_path` the exported model's settings (`MODEL.mindir.json`,
written by export.py) give the mel bands, hop and rate; without it (or without that file) the zoo's.

    python ascend310_infer/preprocess.py --mel_path DIR_OR_NPY --output_path BIN_DIR [--eval_length 240]
                                         [--model_path MODEL.mindir]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

# This folder first (its preprocess.py, not the repository's), then the repository root for `src`.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from src.audio import load_mel, warn_if_not_log_mel  # noqa: E402
from src.errors import AudioError, OutputError  # noqa: E402
from src.fileio import write_atomically, write_text  # noqa: E402
from src.cli import run_main  # noqa: E402
from src.settings import ZOO_SETTINGS, read_sidecar  # noqa: E402
from src.windows import split_windows  # noqa: E402

META_NAME = "windows.json"


def window_file(name, index):
    return f"{name}_{index:03d}.bin"


def save_bin(path, array):
    """Raw C-order float32, atomically (what the C++ app reads with one fread)."""
    data = np.ascontiguousarray(array, dtype=np.float32)
    write_atomically(path, data.tofile)


def mel_files(mel_path):
    if os.path.isdir(mel_path):
        files = sorted(glob.glob(os.path.join(mel_path, "*.npy")))
        if not files:
            raise AudioError(f"{mel_path}: no .npy mel files in this folder")
        return files
    if not os.path.exists(mel_path):
        raise AudioError(f"{mel_path}: no such file or folder")
    return [mel_path]


def remove_previous(output_path):
    """Drop the windows a previous run listed, so the C++ app never reads stale ones."""
    meta_path = os.path.join(output_path, META_NAME)
    try:
        with open(meta_path, encoding="utf-8") as f:
            previous = json.load(f)
        for name, info in previous.get("utterances", {}).items():
            for i in range(info["windows"]):
                path = os.path.join(output_path, window_file(name, i))
                if os.path.exists(path):
                    os.remove(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # nothing (readable) from before


def preprocess(mel_path, output_path, eval_length=240, settings=ZOO_SETTINGS):
    """Write the windows of every mel; returns the metadata written to windows.json."""
    if eval_length <= 0:
        raise AudioError(f"eval_length must be positive, got {eval_length}")
    features = settings.features
    files = mel_files(mel_path)
    mels = [(os.path.splitext(os.path.basename(f))[0], load_mel(f, features.n_mels)) for f in files]  # all first
    warned = set()
    for f, (_, mel) in zip(files, mels):
        warn_if_not_log_mel(mel, f, warned)
    try:
        os.makedirs(output_path, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{output_path}: cannot create the output folder ({e.strerror})") from None
    remove_previous(output_path)
    meta = {"eval_length": eval_length, "hop_size": features.hop, "sample_rate": features.sample_rate,
            "n_mels": features.n_mels, "utterances": {}}
    for name, mel in mels:
        windows = split_windows(mel, eval_length)
        for i, window in enumerate(windows):
            save_bin(os.path.join(output_path, window_file(name, i)), window[None])
        meta["utterances"][name] = {"frames": int(mel.shape[1]), "windows": int(windows.shape[0])}
    write_text(os.path.join(output_path, META_NAME), json.dumps(meta, indent=1))
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mel_path", required=True, help="a log-mel .npy or a folder of them")
    parser.add_argument("--output_path", required=True, help="folder for the .bin windows and windows.json")
    parser.add_argument("--eval_length", type=int, default=240, help="frames per window (the model's input)")
    parser.add_argument("--model_path", default="", help="the exported MINDIR: its settings file gives bands, hop, rate")
    args = parser.parse_args(argv)
    meta = run_main(lambda: preprocess(args.mel_path, args.output_path, args.eval_length,
                                       read_sidecar(args.model_path) if args.model_path else ZOO_SETTINGS))
    count = sum(u["windows"] for u in meta["utterances"].values())
    print(f"preprocess: {len(meta['utterances'])} mel file(s) -> {count} window(s) of "
          f"[1, {meta['n_mels']}, {args.eval_length}] in {args.output_path}")


if __name__ == "__main__":
    main()
