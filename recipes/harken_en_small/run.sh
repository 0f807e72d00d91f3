#!/usr/bin/env bash
# harken_en_small from nothing: corpora -> three training phases (resumable) -> degraded test sets -> results ->
# packaged model.
#
#   bash recipes/harken_en_small/run.sh [DATA_DIR] [EXP_DIR]     # defaults: data/harken_en_small exp/harken_en_small
#   STAGE=4 bash recipes/harken_en_small/run.sh ...              # start at a stage (3-5 resume training)
#
# Every stage can be re-run: synthesis and training continue where they stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-data/harken_en_small}
exp=${2:-exp/harken_en_small}
stage=${STAGE:-1}
harken=${HARKEN:-harken}
python=${PYTHON:-python}

if [ "$stage" -le 1 ]; then  # 1. corpus: 36k training utterances, half AN4-style, half book sentences, 50 voices
  $harken data synth "$data" --train 36000 --val 400 --test 1200 --seed 7 --jobs 2 \
    --text-file "$here/sentences.txt" --sentence-share 0.5
  $python "$here/split_test.py" "$data/test_manifest.json"   # test_spelled.json, test_sentences.json
fi

if [ "$stage" -le 2 ]; then  # 2. wide corpus: 60k more, 588 voices, wider prosody, 40% with simulated accents;
  # its test split is the same utterances as stage 1's (same seed, same test plan), so it is not used
  $harken data synth "${data}_wide" --train 60000 --val 400 --test 1200 --seed 7 --jobs 2 \
    --text-file "$here/sentences.txt" --sentence-share 0.5 --variety wide
fi

train() {  # train OUT_DIR DATA_DIR [overrides...]: resumes from OUT_DIR/checkpoints/last.ckpt if it is there
  local out=$1 dir=$2; shift 2
  local resume=(); [ -f "$out/checkpoints/last.ckpt" ] && resume=(--resume)
  $harken train "$here/config.yaml" --out "$out" "${resume[@]}" \
    model.train_ds.manifest_filepath="$dir/train_manifest.json" \
    model.validation_ds.manifest_filepath="$dir/val_manifest.json" "$@"
}

if [ "$stage" -le 3 ]; then  # 3. phase 1: 10,000 steps on the stage-1 corpus; checkpoints every 250 steps
  train "$exp/standard" "$data"
fi

if [ "$stage" -le 4 ]; then  # 4. phase 2: from phase 1's best weights, 9,000 steps on the wide corpus
  train "$exp/wide" "${data}_wide" init_from="$exp/standard/model.nemo" model.optim.lr=0.002 \
    model.optim.sched.warmup_steps=300 trainer.max_steps=9000
fi

if [ "$stage" -le 5 ]; then  # 5. phase 3: from phase 2's best weights, 8,000 more steps on the wide corpus
  train "$exp/phase3" "${data}_wide" init_from="$exp/wide/model.nemo" model.optim.lr=0.0015 \
    model.optim.sched.warmup_steps=200 trainer.max_steps=8000
fi

if [ "$stage" -le 6 ]; then  # 6. degraded copies of both test sets
  for set in spelled sentences; do
    m="$data/test_$set.json"
    $harken data perturb "$m" "$data/test_${set}_noise10" --spec "{white_noise: {min_snr_db: 10, max_snr_db: 10}}"
    $harken data perturb "$m" "$data/test_${set}_reverb" --spec "{reverb: {min_rt60: 0.4, max_rt60: 0.6}}"
    $harken data perturb "$m" "$data/test_${set}_telephone" --spec "{telephone: {}}"
    $harken data perturb "$m" "$data/test_${set}_speed0.9" --spec "{speed: {min_rate: 0.9, max_rate: 0.9}}"
    $harken data perturb "$m" "$data/test_${set}_speed1.1" --spec "{speed: {min_rate: 1.1, max_rate: 1.1}}"
  done
fi

if [ "$stage" -le 7 ]; then  # 7. WER/CER on every test set, written to results.md
  $python "$here/evaluate_all.py" --model "$exp/phase3/model.nemo" --data "$data" --out "$exp/phase3/results.md"
fi

if [ "$stage" -le 8 ]; then  # 8. speed on 2 threads, then the model becomes harken's bundled default
  $python bench/bench_speed.py --model "$exp/phase3/model.nemo"        # a row in bench/RESULTS.md
  cp "$exp/phase3/model.nemo" harken/pretrained/models/harken_en_small.nemo
fi
