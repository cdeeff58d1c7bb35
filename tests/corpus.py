"""A small training folder (DATA/wav + DATA/mel, as preprocess.py writes) for the tests that train."""
import os

import numpy as np
import soundfile as sf

from src.audio import write_wav
from src.features import ZOO
from src.fileio import save_npy


def file_audio(path):
    """A 16-bit WAV as float32 in [-1, 1), as the dataset reads it."""
    return sf.read(path, dtype="int16")[0].astype(np.float32) / 32768.0


def make_train_folder(root, lengths, seed=0):
    """DATA/wav + DATA/mel from noise clips of the given sample counts; mel from the int16 audio."""
    rng = np.random.default_rng(seed)
    for i, n in enumerate(lengths):
        name = f"utt{i:03d}"
        wav_path = os.path.join(root, "wav", name + ".wav")
        write_wav(wav_path, 0.3 * rng.standard_normal(n).astype(np.float32))
        save_npy(os.path.join(root, "mel", name + ".npy"), ZOO.log_mel(file_audio(wav_path)))
    return str(root)


def tone(seconds, f0=180.0):
    """A slowly modulated sine at the zoo's rate (float32)."""
    t = np.arange(int(ZOO.sample_rate * seconds)) / ZOO.sample_rate
    return (0.2 * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def make_eval_inputs(root):
    """eval.py's inputs in preprocess.py's layout: ROOT/val/a.npy with its reference ROOT/val_wav/a.wav,
    val/b.npy without one, and val/c.wav (copy synthesis). Returns the val folder."""
    from src.audio import read_audio  # pylint: disable=import-outside-toplevel

    val, refs = os.path.join(root, "val"), os.path.join(root, "val_wav")
    write_wav(os.path.join(refs, "a.wav"), tone(0.6))
    save_npy(os.path.join(val, "a.npy"), ZOO.log_mel(read_audio(os.path.join(refs, "a.wav"))[0]))
    save_npy(os.path.join(val, "b.npy"), ZOO.log_mel(tone(0.3, 300.0)))  # no reference known
    write_wav(os.path.join(val, "c.wav"), tone(0.4, 220.0))  # copy synthesis
    return val

