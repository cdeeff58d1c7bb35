"""Turn a speech corpus into the zoo's dataset layout (SPEC §1), with nothing but this repo.

    python preprocess.py --input_dir CORPUS --output_dir DATASET [--val_size N] [--num_workers K]
                         [--config_path config.yaml] [--fmax 7600 ...]

The features are the config's (sample, filter_length, win_length, hop_size, mel_num, fmin, fmax; src/features.py).

CORPUS is an LJ Speech-style folder (metadata.csv + wavs/) or any folder of audio files. DATASET gets
train/wav/NAME.wav (16-bit mono 22050 Hz), train/mel/NAME.npy (log-mel (80, 1 + samples // 256)),
val/NAME.npy (held-out mels for eval.py), val_wav/NAME.wav (their reference audio) and
manifest.json. Safe to rerun after an interruption: finished files are skipped, and every output is
written to a temp file and renamed, so none is ever half-written.
"""
import argparse
import glob
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time

import numpy as np
import soundfile as sf
from tqdm import tqdm

from src.audio import check_wav_complete, quantize_pcm16, read_audio, write_wav
from src.cli import run_main
from src.errors import AudioError, DatasetError, UserError
from src.features import ZOO, MelSettings
from src.fileio import remove_stale_temps, save_npy, write_text
from src.inputs import MANIFEST
from src.model_utils.config import get_config

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au")
INTERRUPTED = "interrupted: finished files are kept; rerun the same command to continue"


def warn(message):
    tqdm.write(f"warning: {message}", file=sys.stderr)


def find_utterances(input_dir, output_dir=None):
    """[(name, audio path)] in a stable order, and [(path, reason)] for entries that cannot be used.
    A folder search leaves out output_dir (a dataset written inside the corpus is not input)."""
    metadata = os.path.join(input_dir, "metadata.csv")
    items, problems, seen = [], [], {}
    if os.path.isfile(metadata):
        # LJ Speech: "ID|text|normalized text" per line; audio in wavs/ID.wav
        with open(metadata, encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                name = line.split("|", 1)[0].strip()
                if not name:
                    continue
                path = os.path.join(input_dir, "wavs", name + ".wav")
                if name in seen:
                    problems.append((f"{metadata}:{line_no}", f"{name} listed again (first on line {seen[name]})"))
                elif not os.path.isfile(path):
                    problems.append((path, f"listed in metadata.csv (line {line_no}) but missing"))
                else:
                    seen[name] = line_no
                    items.append((name, path))
        return items, problems
    for path in sorted(glob.glob(os.path.join(input_dir, "**", "*"), recursive=True)):
        if not path.lower().endswith(AUDIO_EXTENSIONS) or not os.path.isfile(path):
            continue
        rel = os.path.relpath(path, input_dir)
        if any(part.startswith(".") for part in rel.split(os.sep)) or (
                output_dir and _inside(path, output_dir)):
            continue
        name = os.path.splitext(rel)[0].replace(os.sep, "_")
        if name in seen:
            problems.append((path, f"same output name {name!r} as {seen[name]}"))
            continue
        seen[name] = path
        items.append((name, path))
    return items, problems


def _inside(path, folder):
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


VAL_FRACTION, VAL_MAX = 0.05, 10


def default_val_size(count):
    """Held out when --val_size is not given: about 5 % of the corpus, at least 1 and at most 10 (the
    zoo's fixed 10 would leave a 12-clip corpus 2 clips to train on). A single clip is all training."""
    if count < 2:
        return 0
    return min(VAL_MAX, max(1, round(VAL_FRACTION * count)))


def choose_val(names, val_size=None):
    """Deterministic held-out set: the names with the smallest SHA-1, so it does not depend on file
    order and stays the same when the corpus grows. At least one utterance is left for training.
    val_size None: default_val_size."""
    if val_size is None:
        val_size = default_val_size(len(names))
    count = max(0, min(val_size, len(names) - 1))
    return set(sorted(names, key=lambda n: hashlib.sha1(n.encode("utf-8")).hexdigest())[:count])


def output_paths(out_dir, name, split):
    """(wav, mel) written for one utterance in `split`."""
    if split == "train":
        return os.path.join(out_dir, "train", "wav", name + ".wav"), os.path.join(out_dir, "train", "mel", name + ".npy")
    return os.path.join(out_dir, "val_wav", name + ".wav"), os.path.join(out_dir, "val", name + ".npy")


def process_one(job):
    """Worker: one utterance -> 16-bit mono WAV at the features' rate + its log-mel. Returns a result dict."""
    name, path, split, out_dir, features = job
    wav_path, mel_path = output_paths(out_dir, name, split)
    result = {"name": name, "path": path, "split": split, "status": "done", "seconds": 0.0}
    if os.path.exists(wav_path) and os.path.exists(mel_path):
        result.update(status="kept", seconds=sf.info(wav_path).frames / features.sample_rate)
        return result
    try:
        if os.path.getsize(path) == 0:
            raise AudioError(f"{path}: empty file")
        check_wav_complete(path)
        audio, info = read_audio(path, features.sample_rate)
    except AudioError as e:
        result.update(status="bad", reason=str(e).replace(f"{path}: ", "", 1))
        return result
    except Exception as e:  # a decoder or resampler failing on odd input: skip the file, not the run
        result.update(status="bad", reason=f"cannot be decoded ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
        return result
    # The written WAV is what training reads, so the mel is computed from exactly those samples.
    audio = quantize_pcm16(audio)
    write_wav(wav_path, audio, features.sample_rate)
    save_npy(mel_path, features.log_mel(audio))
    result.update(info, seconds=len(audio) / features.sample_rate)
    return result


def remove_other_split(out_dir, name, split):
    """Drop outputs left in the other split by an earlier run with another --val_size."""
    for p in output_paths(out_dir, name, "val" if split == "train" else "train"):
        if os.path.exists(p):
            os.remove(p)


SUBFOLDERS = ("train/wav", "train/mel", "val", "val_wav", ".")


def warm_up(features):
    """librosa's first STFT costs ~1.5 s of lazy imports; pay it once, before forking workers."""
    features.log_mel(np.zeros(4 * features.hop, dtype=np.float32))


def _ignore_sigint():
    """Workers leave Ctrl-C to the main process, which stops the pool: one message, no tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(jobs, num_workers):
    """Yield process_one results, in parallel, with a progress bar."""
    bar = tqdm(total=len(jobs), unit="file", desc="preprocess", dynamic_ncols=True)
    try:
        if num_workers <= 1:
            for job in jobs:
                yield process_one(job)
                bar.update()
            return
        # fork: the workers inherit the warmed-up librosa (see warm_up) instead of paying for it each
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with multiprocessing.get_context(method).Pool(num_workers, initializer=_ignore_sigint) as pool:
            for result in pool.imap_unordered(process_one, jobs, chunksize=1):
                yield result
                bar.update()
    finally:
        bar.close()


def note_conversions(result, noted, features):
    """Say once per run that audio is being resampled / mixed down (with the first file as example)."""
    if result.get("resampled") and "resampled" not in noted:
        noted.add("resampled")
        tqdm.write(f"note: resampling audio to {features.sample_rate} Hz (first: {result['path']} at {result['orig_sr']} Hz)")
    if result.get("downmixed") and "downmixed" not in noted:
        noted.add("downmixed")
        tqdm.write(f"note: mixing multi-channel audio down to mono (first: {result['path']}, "
                   f"{result['channels']} channels)")


def write_manifest(out_dir, input_dir, train, val, bad, seconds, features):
    described = features.as_dict()
    described["hop_size"] = described.pop("hop")
    described["mel"] = (f"natural log of max(mel, log_floor), float32 ({features.n_mels}, 1 + samples // hop); "
                        f"the network sees (mel + 5) / 5")
    manifest = {
        "source": os.path.abspath(input_dir),
        "features": described,
        "train": sorted(train), "val": sorted(val),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "skipped": [{"file": f, "reason": r} for f, r in bad],
    }
    write_text(os.path.join(out_dir, MANIFEST), json.dumps(manifest, indent=1) + "\n")


def preprocess(input_dir, output_dir, val_size=None, num_workers=None, features=ZOO):
    """Run the whole preprocessing; returns the manifest's counts. A UserError (one line) on failure.
    val_size None: about 5 % of the corpus held out (default_val_size)."""
    if not os.path.isdir(input_dir):
        raise DatasetError(f"{input_dir}: no such folder")
    if val_size is not None and val_size < 0:
        raise UserError(f"--val_size must be >= 0, got {val_size}")
    num_workers = num_workers or os.cpu_count() or 1
    for sub in SUBFOLDERS:
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
        remove_stale_temps(os.path.join(output_dir, sub))  # SIGKILL leaves no chance to clean up

    items, problems = find_utterances(input_dir, output_dir)
    bad = list(problems)
    for path, reason in problems:
        warn(f"skipped {path}: {reason}")
    val_names = choose_val([n for n, _ in items], val_size)
    if val_size is None:
        split_rule = f"val: {len(val_names)} of {len(items)} held out by default (5 %, 1 to {VAL_MAX}; set --val_size)"
    else:
        split_rule = f"val: {len(val_names)} of {len(items)} held out (--val_size {val_size})"
    jobs = [(n, p, "val" if n in val_names else "train", output_dir, features) for n, p in items]

    start, noted, processed_seconds = time.time(), set(), 0.0
    counts = {"done": 0, "kept": 0, "resampled": 0, "downmixed": 0}
    done = {"train": [], "val": []}
    seconds = {"train": 0.0, "val": 0.0}
    if any(not all(map(os.path.exists, output_paths(output_dir, n, split))) for n, _, split, _, _ in jobs):
        warm_up(features)
    try:
        for result in run_jobs(jobs, num_workers):
            if result["status"] == "bad":
                bad.append((result["path"], result["reason"]))
                warn(f"skipped {result['path']}: {result['reason']}")
                continue
            note_conversions(result, noted, features)
            counts[result["status"]] += 1
            counts["resampled"] += bool(result.get("resampled"))
            counts["downmixed"] += bool(result.get("downmixed"))
            if result["status"] == "done":
                processed_seconds += result["seconds"]
            done[result["split"]].append(result["name"])
            seconds[result["split"]] += result["seconds"]
            remove_other_split(output_dir, result["name"], result["split"])
    except KeyboardInterrupt:
        raise SystemExit(INTERRUPTED) from None
    wall = time.time() - start

    if not done["train"] and done["val"]:
        # every training candidate was bad: train on one held-out utterance rather than on nothing
        name = done["val"].pop()
        result = process_one((name, dict(items)[name], "train", output_dir, features))
        remove_other_split(output_dir, name, "train")
        done["train"].append(name)
        seconds["val"] -= result["seconds"]
        seconds["train"] += result["seconds"]
    write_manifest(output_dir, input_dir, done["train"], done["val"], bad, seconds, features)

    print(f"preprocess: {len(done['train'])} train + {len(done['val'])} val utterances "
          f"({seconds['train'] / 60:.1f} + {seconds['val'] / 60:.1f} min of audio) in {output_dir} [{split_rule}]; "
          f"{counts['done']} processed ({counts['resampled']} resampled, {counts['downmixed']} mixed down), "
          f"{counts['kept']} already done, {len(bad)} skipped; {wall:.1f} s"
          + (f" ({processed_seconds / max(wall, 1e-9):.0f} s of audio per s)" if counts["done"] else ""))
    if not done["train"]:
        raise DatasetError(f"{input_dir}: no usable audio ({len(bad)} files skipped)")
    return {"train": len(done["train"]), "val": len(done["val"]), "skipped": len(bad),
            "processed": counts["done"], "kept": counts["kept"], "resampled": counts["resampled"],
            "downmixed": counts["downmixed"], "seconds": sum(seconds.values()),
            "processed_seconds": processed_seconds, "wall": wall}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Feature settings come from --config_path (default config.yaml) and "
                                            "its keys as --key value (e.g. --fmax 7600).")
    parser.add_argument("--input_dir", required=True, help="LJ Speech-style folder or any folder of audio files")
    parser.add_argument("--output_dir", required=True, help="dataset folder to create or complete")
    parser.add_argument("--val_size", type=int, default=None,
                        help=f"utterances held out in val/ (default: 5 %% of the corpus, 1 to {VAL_MAX})")
    parser.add_argument("--num_workers", type=int, default=None, help="processes (default: all cores)")
    args, rest = parser.parse_known_args(argv)

    def work():
        features = MelSettings.from_config(get_config(rest))
        return preprocess(args.input_dir, args.output_dir, args.val_size, args.num_workers, features)
    run_main(work)


if __name__ == "__main__":
    main()
