"""C++ inference, step 3: the app's audio windows -> WAV files.

For each utterance in preprocess.py's `windows.json`, reads the app's outputs
`RESULT_DIR/NAME_NNN_0.bin` (float32, `256 * eval_length` samples each), cross-fades them with
`src.windows.merge_windows` (SPEC §5), cuts to `256 * frames` samples and writes `NAME.wav`
(16-bit, 22050 Hz).

    python ascend310_infer/postprocess.py --result_path RESULT_DIR --meta BIN_DIR/windows.json --output_path WAV_DIR
"""
import argparse
import json
import os
import sys

import numpy as np

# This folder first (its preprocess.py, not the repository's), then the repository root for `src`.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from src.audio import AudioError, write_wav  # noqa: E402
from src.cli import run_main  # noqa: E402
from src.features import ZOO  # noqa: E402
from src.windows import merge_windows  # noqa: E402
from preprocess import window_file  # noqa: E402  (ascend310_infer/preprocess.py, see above)


def result_file(name, index):
    """The C++ app writes the output of `NAME_NNN.bin` as `NAME_NNN_0.bin` (the zoo's naming)."""
    return window_file(name, index)[:-len(".bin")] + "_0.bin"


def read_meta(meta_path):
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        return meta["eval_length"], meta["hop_size"], meta.get("sample_rate", ZOO.sample_rate), meta["utterances"]
    except OSError as e:
        raise AudioError(f"{meta_path}: cannot read ({e.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise AudioError(f"{meta_path}: not a windows.json written by preprocess.py") from None


def read_window(path, samples):
    if not os.path.isfile(path):
        raise AudioError(f"{path}: missing (the C++ app did not write this window)")
    audio = np.fromfile(path, dtype=np.float32)
    if audio.size != samples:
        raise AudioError(f"{path}: holds {audio.size} samples, expected {samples}")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return audio


def postprocess(result_path, meta_path, output_path):
    """Write one WAV per utterance; returns the list of WAV paths."""
    eval_length, hop_size, sample_rate, utterances = read_meta(meta_path)
    samples = eval_length * hop_size
    written = []
    for name, info in sorted(utterances.items()):
        windows = [read_window(os.path.join(result_path, result_file(name, i)), samples)
                   for i in range(info["windows"])]
        audio = merge_windows(np.stack(windows), info["frames"], eval_length, hop_size)
        path = os.path.join(output_path, name + ".wav")
        write_wav(path, audio, sample_rate)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result_path", required=True, help="the C++ app's output folder (result_Files)")
    parser.add_argument("--meta", required=True, help="windows.json written by preprocess.py")
    parser.add_argument("--output_path", required=True, help="folder for the WAV files")
    args = parser.parse_args(argv)
    written = run_main(lambda: postprocess(args.result_path, args.meta, args.output_path))
    print(f"postprocess: wrote {len(written)} WAV file(s) to {args.output_path}")


if __name__ == "__main__":
    main()
