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
