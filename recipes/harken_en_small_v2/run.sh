#!/usr/bin/env bash
# harken_en_small_v2: the shipped model fine-tuned on several speech engines, so that it hears English and not only
# espeak-ng. Phase A (one 3-hour session on 2 cores; README.md has the minutes of each stage):
#   held-out espeak-ng test set (v1's) -> multi-engine training corpus avoiding its texts -> fine-tuning from the
#   committed harken_en_small.nemo -> the other evaluation sets -> choice of checkpoint -> one table against v10
#   -> (SHIP=1, after reading the table against the ship rule) the model becomes harken's default.
#
#   bash recipes/harken_en_small_v2/run.sh [DATA_DIR] [EXP_DIR]   # defaults: data/harken_en_small_v2 exp/harken_en_small_v2
#   STAGE=3 bash recipes/harken_en_small_v2/run.sh ...            # start at a stage (3 trains; re-running resumes)
#   STAGE=1 STOP=1 bash recipes/harken_en_small_v2/run.sh ...   # only stage 1
#   DRY_RUN=1 bash recipes/harken_en_small_v2/run.sh ...          # print every command, run and write nothing
#   TRAIN_N=200 VAL_N=20 EVAL_N=20 STEPS=20 bash recipes/harken_en_small_v2/run.sh "$DATA_DIR/tiny" "$RUN_DIR/tiny"   # a tiny run
#
# Every stage can be re-run: synthesis and training continue where they stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
v1=$(cd "$here/../harken_en_small" && pwd)  # its texts, test-set split, checkpoint chooser and bootstrap comparison
data=${1:-data/harken_en_small_v2}
exp=${2:-exp/harken_en_small_v2}
stage=${STAGE:-1}
stop=${STOP:-7}  # the last stage to run
train_n=${TRAIN_N:-30000}    # phase A's training corpus (README: what fits)
val_n=${VAL_N:-400}          # its validation split (training voices, other texts)
eval_n=${EVAL_N:-200}        # utterances in each engine's evaluation set (and scored per set in stage 6)
steps=${STEPS:-6000}         # fine-tuning steps (about 1.0 per second at this width in bf16, validation included)
engines=${ENGINES:-espeak:0.45,hibari:0.2,pico:0.3,kokoro:0.05}
v10=${INIT_MODEL:-harken/pretrained/models/harken_en_small.nemo}  # the committed model (v10) that phase A starts from
stage_on() { [ "$stage" -le "$1" ] && [ "$1" -le "$stop" ]; }  # does this run include stage $1?
dry=${DRY_RUN:+echo}  # a prefix on every command that acts: echo prints it instead
harken="$dry ${HARKEN:-harken}"
python="$dry ${PYTHON:-python}"
ev="${data}_eval"
espeak_test="$ev/espeak/test_manifest.json"

if stage_on 1; then  # 1. v1's held-out espeak-ng test set: the same seed and plan as v1's stage 1, so the same
  # 1,200 utterances (8 voices never trained on); split into spelled and sentences. Its texts are avoided below.
  $harken data synth "$ev/espeak" --train 0 --val 0 --test 1200 --seed 7 --jobs 2 \
    --text-file "$v1/sentences.txt" --sentence-share 0.5
  $python "$v1/split_test.py" "$espeak_test"
fi

if stage_on 2; then  # 2. the training corpus: four engines by share (training voices only), 30% of it given a
  # new speaker by WORLD warping, espeak-ng's part in the wide variety (588 voices, simulated accents); texts from
  # v1's largest sentence file, half spelled items (half of those spelling book words), none of the test texts
  $harken data synth "$data" --train "$train_n" --val "$val_n" --test 0 --seed 32 --jobs 2 \
    --text-file "$v1/sentences_more.txt" --sentence-share 0.5 --spell-words 0.5 --variety wide \
    --engines "$engines" --warp 0.3 --avoid-texts "$espeak_test"
fi

if stage_on 3; then  # 3. fine-tuning from v10: every tensor loaded, peak lr 5e-4, bf16 (config.yaml)
  resume=()  # a run with a checkpoint continues; one that stopped before its first checkpoint starts over
  if [ -f "$exp/phaseA/checkpoints/last.ckpt" ]; then resume=(--resume); elif [ -e "$exp/phaseA" ]; then resume=(--overwrite); fi
  $harken train "$here/config.yaml" --out "$exp/phaseA" "${resume[@]}" init_from="$v10" \
    model.train_ds.manifest_filepath="$data/train_manifest.json" \
    model.validation_ds.manifest_filepath="$data/val_manifest.json" trainer.max_steps="$steps" \
    trainer.val_check_interval="$(( steps < 500 ? steps : 500 ))"
fi

if stage_on 4; then  # 4. the other evaluation sets, all saying the first EVAL_N texts of stage 1's test set
  # (same seed and plan): each training engine's held-out voice (pico en-GB, kokoro jf_gongitsune), Piper joe (never
  # trained on: the development set), flite's four voices (evaluation only)
  for engine in pico kokoro piper; do
    $harken data synth "$ev/$engine" --train 0 --val 0 --test "$eval_n" --seed 7 --jobs 2 \
      --text-file "$v1/sentences.txt" --sentence-share 0.5 --engines "$engine"
  done
  $python "$here/make_flite_set.py" --manifest "$espeak_test" --n "$eval_n" --out "$ev/flite"
fi

if stage_on 5; then  # 5. the better of v10 and phase A's best and last checkpoints on the validation split
  $python "$v1/select_checkpoint.py" --out "$exp/phaseA/selected.nemo" --manifests "$data/val_manifest.json" \
    --candidates "$v10" "$exp/phaseA/checkpoints/best.ckpt" "$exp/phaseA/checkpoints/last.ckpt"
fi

if stage_on 6; then  # 6. one table: the chosen model on every evaluation set, beside v10 with paired intervals
  $python "$here/evaluate_v2.py" --model "$exp/phaseA/selected.nemo" --baseline "$v10" --sets "$ev" \
    --n "$eval_n" --out "$exp/phaseA/eval.md" --overwrite
fi

if stage_on 7 && [ -n "${SHIP:-}" ]; then  # 7. only with SHIP=1, once eval.md meets the ship rule (README)
  $dry cp "$exp/phaseA/selected.nemo" harken/pretrained/models/harken_en_small.nemo
fi
