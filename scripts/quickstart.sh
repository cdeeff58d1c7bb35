#!/usr/bin/env bash
# README's first command: set everything up and run the main job end to end on a small built-in
# default. (Grows with the pipeline: corpus -> preprocess -> train -> synthesize -> export.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash setup.sh
.venv/bin/python - <<'PY'
import numpy as np
import mindspore as ms
from src.model import Generator, MultiDiscriminator, count_parameters
g, d = Generator(0.2), MultiDiscriminator()
mel = ms.Tensor(np.random.default_rng(0).normal(size=(1, 80, 32)).astype(np.float32))
wav = g(mel)
scores = d(wav)
print(f"generator: {count_parameters(g):,} parameters; 32 frames -> {wav.shape[-1]} samples")
print(f"discriminator: {count_parameters(d):,} parameters; {len(scores)} scales")
PY
