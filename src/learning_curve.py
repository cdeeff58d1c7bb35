"""The learning curve (docs/training_recipes.md): copy synthesis of the val set with the generator
being trained, scored against the reference audio, one row per evaluation in OUT/learning_curve.csv.

The mels and reference WAVs are read (and checked) once, before training; one Vocoder keeps its
compiled graphs while its weights are refreshed at every point. Each row is the mean over the clips.
`--metrics` says how much is scored: `fast`, log-mel L1 alone (the best generator's criterion);
`all`, also STOI, PESQ and the estimated MOS (~1 s of CPU per clip, most of it DNSMOS).
"""
import csv
import io
import os

import numpy as np

from src import metrics
from src.errors import DatasetError
from src.features import ZOO
from src.fileio import write_text
from src.inputs import check_inputs, list_inputs, read_input


class LearningCurve:
    FILE = "learning_curve.csv"
    COLUMNS = ("step", "phase", "train_cpu_seconds", "log_mel_l1", "stoi", "pesq_wb", "mos_est", "mos_est_ref")

    def __init__(self, folder, out_dir, resume_step, features=ZOO, level="all"):
        """`folder`: val mels (or WAVs) with references in val_wav/ beside it (preprocess.py's layout).
        Rows of OUT/learning_curve.csv after `resume_step` are dropped (a resumed run redoes them).
        `level`: "fast" or "all" (metrics.LEVELS)."""
        items = list_inputs(folder)
        check_inputs(items, features)
        self.features = features
        self.names = [name for name, _ in items]
        self.clips = []
        for name, path in items:
            mel, reference, _ = read_input(path, folder, "", features)
            if reference is None:
                raise DatasetError(f"{path}: no reference WAV (val_wav/{name}.wav) to score the learning curve")
            self.clips.append((mel, reference))
        self.level = level
        self.mos_ref = _mean([metrics.mos_estimate(ref, features.sample_rate) for _, ref in self.clips]) \
            if level == "all" else None
        self.path = os.path.join(out_dir, self.FILE)
        self.rows = [r for r in _read_curve(self.path) if int(r["step"]) <= resume_step] if resume_step else []
        self.vocoder = None
        self.audio = []  # the last evaluation's synthesis of each clip (for the TensorBoard log)

    def evaluate(self, generator, step, phase, cpu_seconds):
        """Score `generator` now, write the file, return the row (its audio: `self.audio`)."""
        from src.inference import Vocoder  # pylint: disable=import-outside-toplevel

        if self.vocoder is None:
            self.vocoder = Vocoder(generator)
        else:
            self.vocoder.load_weights(generator)
        self.audio = [self.vocoder(mel) for mel, _ in self.clips]
        sr = self.features.sample_rate  # the curve's columns only (eval.py's report has the rest)
        scores = [{"log_mel_l1": metrics.log_mel_l1(reference, audio, self.features)} for (_, reference), audio
                  in zip(self.clips, self.audio)]
        if self.level == "all":
            for score, (_, reference), audio in zip(scores, self.clips, self.audio):
                score.update(stoi=metrics.stoi_score(reference, audio, sr), pesq_wb=metrics.pesq_score(reference, audio, sr),
                             mos_est=metrics.mos_estimate(audio, sr))
        row = {"step": step, "phase": phase, "train_cpu_seconds": round(cpu_seconds, 1),
               "mos_est_ref": self.mos_ref}
        for key in ("log_mel_l1", "stoi", "pesq_wb", "mos_est"):
            row[key] = _mean([s.get(key) for s in scores])
        self.rows = [r for r in self.rows if int(r["step"]) != step] + [row]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in self.COLUMNS} for r in self.rows)
        write_text(self.path, text.getvalue())
        return row


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _read_curve(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
