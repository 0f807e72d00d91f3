#!/usr/bin/env bash
# harken_en_small from nothing: corpus -> training (resumable) -> degraded test sets -> results -> packaged model.
#
#   bash recipes/harken_en_small/run.sh [DATA_DIR] [EXP_DIR]     # defaults: data/harken_en_small exp/harken_en_small
#   STAGE=3 bash recipes/harken_en_small/run.sh ...              # start at a stage (3 resumes training)
#
# Every stage can be re-run: synthesis and training continue where they stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-data/harken_en_small}
exp=${2:-exp/harken_en_small}
stage=${STAGE:-1}
harken=${HARKEN:-harken}
python=${PYTHON:-python}

if [ "$stage" -le 1 ]; then  # 1. corpus: 36k training utterances, half AN4-style, half book sentences
  $harken data synth "$data" --train 36000 --val 400 --test 1200 --seed 7 --jobs 2 \
    --text-file "$here/sentences.txt" --sentence-share 0.5
  $python "$here/split_test.py" "$data/test_manifest.json"   # test_spelled.json, test_sentences.json
fi

if [ "$stage" -le 3 ]; then  # 3. training (10,000 steps); checkpoints every 250 steps, re-running resumes exactly
  resume=(); [ -f "$exp/checkpoints/last.ckpt" ] && resume=(--resume)
  $harken train "$here/config.yaml" --out "$exp" "${resume[@]}" \
    model.train_ds.manifest_filepath="$data/train_manifest.json" \
    model.validation_ds.manifest_filepath="$data/val_manifest.json"
fi

if [ "$stage" -le 4 ]; then  # 4. degraded copies of both test sets
  for set in spelled sentences; do
    m="$data/test_$set.json"
    $harken data perturb "$m" "$data/test_${set}_noise10" --spec "{white_noise: {min_snr_db: 10, max_snr_db: 10}}"
    $harken data perturb "$m" "$data/test_${set}_reverb" --spec "{reverb: {min_rt60: 0.4, max_rt60: 0.6}}"
    $harken data perturb "$m" "$data/test_${set}_telephone" --spec "{telephone: {}}"
    $harken data perturb "$m" "$data/test_${set}_speed0.9" --spec "{speed: {min_rate: 0.9, max_rate: 0.9}}"
    $harken data perturb "$m" "$data/test_${set}_speed1.1" --spec "{speed: {min_rate: 1.1, max_rate: 1.1}}"
  done
fi

if [ "$stage" -le 5 ]; then  # 5. WER/CER on every test set, written to results.md
  $python "$here/evaluate_all.py" --model "$exp/model.nemo" --data "$data" --out "$exp/results.md"
fi

if [ "$stage" -le 6 ]; then  # 6. speed on 2 threads, then the model becomes harken's bundled default
  $python bench/bench_speed.py --model "$exp/model.nemo"        # a row in bench/RESULTS.md
  cp "$exp/model.nemo" harken/pretrained/models/harken_en_small.nemo
fi
