#!/usr/bin/env bash
# harken_vad and harken_commands_en from nothing, offline: synthetic corpora -> training (each well under 1 MB,
# CPU) -> held-out evaluation (commands accuracy + confusion matrix; frame VAD vs silero-vad) -> packaged models.
#
#   bash recipes/vad_commands/run.sh [DATA_DIR] [EXP_DIR]    # defaults: data/vad_commands exp/vad_commands
#   STAGE=3 bash recipes/vad_commands/run.sh ...             # start at a stage
#
# Every stage can be re-run: synthesis and training continue where they stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${1:-data/vad_commands}
exp=${2:-exp/vad_commands}
stage=${STAGE:-1}
harken=${HARKEN:-harken}
python=${PYTHON:-python}

if [ "$stage" -le 1 ]; then  # 1. corpora: 4,560 one-second command clips; 600 eight-second VAD mixtures
  $harken data synth-commands "$data/commands" --train 3600 --val 360 --test 600 --jobs 2
  $harken data synth-vad "$data/vad" --train 500 --val 40 --test 60 --jobs 2
fi

train() {  # train CONFIG OUT_DIR CORPUS [overrides...]: resumes from OUT_DIR/checkpoints/last.ckpt
  local config=$1 out=$2 corpus=$3; shift 3
  local resume=(); [ -f "$out/checkpoints/last.ckpt" ] && resume=(--resume)
  $harken train "$config" --out "$out" "${resume[@]}" --no-progress trainer.accelerator=cpu \
    model.train_ds.manifest_filepath="$corpus/train_manifest.json" \
    model.validation_ds.manifest_filepath="$corpus/val_manifest.json" model.train_ds.num_workers=1 "$@"
}

if [ "$stage" -le 2 ]; then  # 2. MatchboxNet 3x1x64 speech commands: 6 epochs of 57 steps with NeMo's NovoGrad
  # schedule, then 5 more from those weights with AdamW (NeMo's schedule is made for 200 epochs; after 6 the
  # model was at 60% on validation and still learning)
  train matchboxnet_3x1x64 "$exp/commands_phase1" "$data/commands" model.train_ds.batch_size=64 trainer.max_epochs=6
  train matchboxnet_3x1x64 "$exp/commands" "$data/commands" init_from="$exp/commands_phase1/model.nemo" \
    model.train_ds.batch_size=64 trainer.max_epochs=5 model.optim.name=adamw model.optim.lr=0.003 \
    "model.optim.betas=[0.9,0.999]" model.optim.sched.name=CosineAnnealing model.optim.sched.min_lr=0.0001
fi

if [ "$stage" -le 3 ]; then  # 3. MarbleNet 3x2x64 frame VAD (20 ms): 7 epochs of ~20 steps; AdamW instead of
  # NeMo's SGD at 0.01, which needs far more epochs than this budget (its F1 was still 0 after the first)
  train marblenet_3x2x64_20ms "$exp/vad" "$data/vad" model.train_ds.batch_size=32 trainer.max_epochs=7 \
    model.optim.name=adamw model.optim.lr=0.005 "~model.optim.momentum=" model.optim.sched.name=CosineAnnealing \
    model.optim.sched.min_lr=0.0001
fi

if [ "$stage" -le 4 ]; then  # 4. commands on held-out voices and backgrounds: accuracy, confusion matrix
  $python "$here/evaluate_commands.py" "$exp/commands/model.nemo" "$data/commands/test_manifest.json" \
    --png "$root/docs/commands_confusion.png"
fi

if [ "$stage" -le 5 ]; then  # 5. frame VAD vs silero-vad on held-out mixtures (pip install silero-vad onnxruntime)
  $python "$here/compare_vad.py" "$exp/vad/model.nemo" "$data/vad/test_manifest.json"
fi

if [ "$stage" -le 6 ]; then  # 6. the shipped models (defaults of harken vad / classify / transcribe --vad)
  cp "$exp/vad/model.nemo" "$root/harken/pretrained/models/harken_vad.nemo"
  cp "$exp/commands/model.nemo" "$root/harken/pretrained/models/harken_commands_en.nemo"
fi
