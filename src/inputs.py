"""The inputs of synthesis: a folder (or one file) of `.npy` log-mels to vocode and `.wav` files to
copy-synthesize, and the reference audio of a val mel where it is known. Used by eval.py and the
training loop's learning curve. No MindSpore.
"""
import json
import os

import soundfile as sf

from src.audio import LN_MAGNITUDE, check_wav_complete, load_mel, read_audio, to_natural_log
from src.errors import AudioError, UserError
from src.features import ZOO, MelSettings

MANIFEST = "manifest.json"  # preprocess.py's record of a dataset, its features included

INPUT_EXTENSIONS = (".npy", ".wav")


def list_inputs(path):
    """[(name, path)] of the .npy/.wav inputs under `path` (a folder or one file), sorted."""
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file or folder")
    if os.path.isfile(path):
        if not path.lower().endswith(INPUT_EXTENSIONS):
            raise UserError(f"{path}: not a .npy mel or .wav file")
        files = [path]
    else:
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if f.lower().endswith(INPUT_EXTENSIONS) and not f.startswith("."))
        if not files:
            raise UserError(f"{path}: no .npy or .wav files to synthesize")
    items, seen = [], {}
    for f in files:
        name = os.path.splitext(os.path.basename(f))[0]
        if name in seen:
            raise UserError(f"{f}: same name as {seen[name]}; both would be written to {name}.wav")
        seen[name] = f
        items.append((name, f))
    return items


def find_reference(npy_path, data_path, reference_path):
    """The WAV a val mel was computed from, if known: --reference_path/NAME.wav, else the
    dataset's val_wav/NAME.wav (preprocess.py's layout), else train/wav/NAME.wav."""
    name = os.path.splitext(os.path.basename(npy_path))[0] + ".wav"
    folder = data_path if os.path.isdir(data_path) else os.path.dirname(os.path.abspath(data_path))
    root = os.path.dirname(os.path.abspath(folder))
    candidates = [os.path.join(reference_path, name)] if reference_path else [
        os.path.join(root, "val_wav", name), os.path.join(root, "wav", name)]
    return next((c for c in candidates if os.path.isfile(c)), None)


def manifest_features(data_path):
    """The features preprocess.py recorded in manifest.json beside the inputs (in their folder or the
    one above, its DATASET/val layout), as (MelSettings, manifest path); (None, None) when there is none."""
    folder = data_path if os.path.isdir(data_path) else os.path.dirname(os.path.abspath(data_path))
    for candidate in (os.path.join(folder, MANIFEST), os.path.join(os.path.dirname(os.path.abspath(folder)), MANIFEST)):
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    recorded = dict(json.load(f)["features"])
                recorded["hop"] = recorded.pop("hop_size")
                recorded.pop("mel", None)
                return MelSettings(**recorded), candidate
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise UserError(f"{candidate}: not a manifest.json written by preprocess.py "
                                f"({type(e).__name__}: {e})") from None
    return None, None


def read_input(path, data_path, reference_path, features=ZOO, representation=LN_MAGNITUDE, with_reference=True):
    """(log-mel, reference audio or None, reference path or None) for one input file; a WAV is
    turned into `features`' log-mel (copy synthesis), a mel of another `representation` converted.
    with_reference False: a mel's reference audio is neither looked for nor read (nothing to score)."""
    if path.lower().endswith(".wav"):
        check_wav_complete(path)
        audio, _ = read_audio(path, features.sample_rate)
        return features.log_mel(audio), audio, path
    mel = to_natural_log(load_mel(path, features.n_mels), representation, features.log_floor)
    ref_path = find_reference(path, data_path, reference_path) if with_reference else None
    reference = None
    if ref_path is not None:
        check_wav_complete(ref_path)
        reference, _ = read_audio(ref_path, features.sample_rate)
    return mel, reference, ref_path


def check_inputs(items, features=ZOO):
    """Validate every input cheaply up front (mels fully, WAVs by header) so a bad file stops the
    run before any synthesis; read_input re-checks while synthesizing."""
    for _, path in items:
        if path.lower().endswith(".wav"):
            check_wav_complete(path)
            try:
                info = sf.info(path)
            except Exception as e:
                raise AudioError(f"{path}: not readable audio ({str(e).splitlines()[0] if str(e) else e})") from None
            if info.frames == 0:
                raise AudioError(f"{path}: zero-length audio")
        else:
            load_mel(path, features.n_mels)
