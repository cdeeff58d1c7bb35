"""A small LJ Speech-style corpus spoken by espeak-ng, so the pipeline runs with nothing downloaded.

Output folder: metadata.csv (`ID|text|normalized text`, LJ Speech's format) and wavs/ID.wav
(16-bit mono 22050 Hz, espeak-ng's native rate). Deterministic for a given seed.
"""
import os
import shutil
import subprocess

import numpy as np
import soundfile as sf

from src.errors import UserError
from src.features import ZOO
from src.fileio import write_atomically, write_text

# Harvard sentences (IEEE 1969, public domain): phonetically balanced, varied length.
SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living!",
]

# espeak-ng voices (language + variant) that ship with Debian's espeak-ng-data, male and female.
DEFAULT_VOICES = ["en-us", "en-gb+f3", "en-us+m3", "en-gb-scotland+f2", "en-029+m5", "en-us+f4"]


class DemoCorpusError(UserError):
    """espeak-ng missing or failing; one line."""


def _speak(text, voice, speed, pitch, path):
    """espeak-ng text -> WAV at `path`, atomically (temp file + rename)."""
    def speak(tmp):
        result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                                 "-w", tmp, text], capture_output=True, text=True)
        if result.returncode != 0:
            raise DemoCorpusError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip()}")
        info = sf.info(tmp)
        if info.samplerate != ZOO.sample_rate or info.frames == 0:
            raise DemoCorpusError(f"espeak-ng wrote {info.frames} samples at {info.samplerate} Hz "
                                  f"(expected audio at {ZOO.sample_rate} Hz)")
    write_atomically(path, speak)


def make_demo_corpus(out_dir, num_utterances=40, voices=None, seed=0):
    """Speak `num_utterances` sentences (cycling through SENTENCES and `voices`, with seeded
    speaking rate and pitch) into out_dir/{metadata.csv, wavs/}. Returns out_dir.

    Existing WAVs with the same names are overwritten; metadata.csv is written last, atomically.
    """
    if shutil.which("espeak-ng") is None:
        raise DemoCorpusError("espeak-ng not found (bash setup.sh installs it: apt-get install espeak-ng)")
    if num_utterances < 1:
        raise DemoCorpusError(f"num_utterances must be >= 1, got {num_utterances}")
    voices = list(voices or DEFAULT_VOICES)
    rng = np.random.default_rng(seed)
    wav_dir = os.path.join(out_dir, "wavs")
    os.makedirs(wav_dir, exist_ok=True)
    order = rng.permutation(len(SENTENCES))
    rows = []
    for i in range(num_utterances):
        text = SENTENCES[order[i % len(SENTENCES)]]
        voice = voices[i % len(voices)]
        speed, pitch = int(rng.integers(140, 191)), int(rng.integers(30, 71))
        name = f"DEMO-{i + 1:04d}"
        _speak(text, voice, speed, pitch, os.path.join(wav_dir, name + ".wav"))
        rows.append(f"{name}|{text}|{text}\n")
    write_text(os.path.join(out_dir, "metadata.csv"), "".join(rows))
    return out_dir
