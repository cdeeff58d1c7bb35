#!/usr/bin/env bash
# README's first command: set everything up, then run the whole job on the built-in demo corpus:
# make a corpus (espeak-ng) -> preprocess -> train briefly on CPU -> synthesize the validation set
# (objective report + spectrogram pictures) -> export a verified MINDIR -> C++ inference.
# Training uses the fast recipe (config_fast.yaml: the generator on the multi-resolution STFT loss,
# docs/training_recipes.md), so a few minutes give recognisable speech; the zoo recipe needs days.
# Everything goes under $QUICKSTART_DIR (default ./demo); rerunning reuses what is already there.
# QUICKSTART_STEPS (default 300) sets how many training steps to run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash setup.sh
PY=$ROOT/.venv/bin/python
OUT=$(realpath -m "${QUICKSTART_DIR:-demo}")
STEPS=${QUICKSTART_STEPS:-300}
mkdir -p "$OUT"

say() { printf '\n==== %s\n' "$*"; }

say "1/6 demo corpus (espeak-ng, several voices) -> $OUT/corpus"
if [ ! -f "$OUT/corpus/metadata.csv" ]; then
    "$PY" scripts/make_demo_corpus.py --output_dir "$OUT/corpus" --num_utterances 24
fi

say "2/6 preprocess (SPEC log-mel, zoo layout) -> $OUT/dataset"
"$PY" preprocess.py --input_dir "$OUT/corpus" --output_dir "$OUT/dataset" --val_size 3

say "3/6 train $STEPS steps on CPU (fast recipe: generator warm-up on the STFT loss) -> $OUT/saved_model"
"$PY" train.py --config_path config_fast.yaml --device_target CPU --data_path "$OUT/dataset/train" \
    --batch_size 4 --train_length 32 --max_steps "$STEPS" --save_steps "$STEPS" --log_every 25 \
    --save_checkpoint_path "$OUT/saved_model" 2>&1 | tee "$OUT/train.log"
CKPT=$(ls -t "$OUT"/saved_model/melgan-*.ckpt | head -n 1)

say "4/6 synthesize the validation set (report + pictures) -> $OUT/output"
"$PY" eval.py --device_target CPU --eval_data_path "$OUT/dataset/val" --eval_model_path "$CKPT" \
    --output_path "$OUT/output" --plot True

say "5/6 export a verified MINDIR -> $OUT/melgan.mindir"
"$PY" export.py --checkpoint_path "$CKPT" --format MINDIR --model_name "$OUT/melgan" --verify

say "6/6 C++ inference of the MINDIR on CPU -> $OUT/cpp_infer"
INFER_OUTPUT="$OUT/cpp_infer" bash scripts/run_infer_cpp.sh "$OUT/melgan.mindir" "$OUT/dataset/val" CPU

say "done. Outputs:"
cat <<MSG
  corpus          $OUT/corpus            (metadata.csv + wavs/)
  dataset         $OUT/dataset           (train/wav, train/mel, val/, val_wav/, manifest.json)
  training log    $OUT/train.log
  TensorBoard     $OUT/saved_model/tensorboard  (pip install tensorboard; tensorboard --logdir it)
  checkpoint      $CKPT
  synthesized     $OUT/output            (WAVs, report, spectrogram PNGs)
  exported model  $OUT/melgan.mindir
  C++ inference   $OUT/cpp_infer/wav

Listen: open $OUT/output/index.html in a browser (each synthesized clip beside the recording it
was computed from, its picture and its report row), or play the files:
MSG
for f in "$OUT"/output/*.wav; do
    n=$(basename "$f" .wav)
    printf '  %s\n      vs %s\n      %s\n' "$f" "$OUT/dataset/val_wav/$n.wav" "$OUT/output/$n.png"
done
cat <<MSG
After $STEPS warm-up steps the clips are the input sentences with a buzzy, smeared timbre (the
discriminator has not trained yet). For better audio train longer, then let the discriminator join
from the last checkpoint (docs/training_recipes.md), e.g.:
  .venv/bin/python train.py --config_path config_fast.yaml --data_path $OUT/dataset/train \\
      --batch_size 4 --train_length 32 --save_checkpoint_path $OUT/saved_model \\
      --pre_trained True --checkpoint_path $CKPT --generator_warmup_steps $STEPS \\
      --max_steps $((STEPS + 200)) --save_steps 50
MSG
