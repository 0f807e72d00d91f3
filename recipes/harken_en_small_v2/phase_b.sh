#!/usr/bin/env bash
# harken_en_small_v2 phase B: no new training. Phase A (run.sh) learned other engines' voices but lost points on
# held-out espeak-ng voices; phase B mixes its weights with v10's (WiSE-FT) and chooses the mix on development sets
# that no table reports (new texts in the held-out espeak-ng voices, and in Piper joe), then scores the chosen mix
# once on run.sh's evaluation sets against v10 (the ship rule of README.md), greedy and with the recipe's LM.
#
#   bash recipes/harken_en_small_v2/phase_b.sh [DATA_DIR] [EXP_DIR]   # the same two folders as run.sh's
#   STAGE=2 STOP=2 bash recipes/harken_en_small_v2/phase_b.sh ...     # one stage; DRY_RUN=1 prints the commands
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
v1=$(cd "$here/../harken_en_small" && pwd)
data=${1:-data/harken_en_small_v2}
exp=${2:-exp/harken_en_small_v2}
stage=${STAGE:-1}
stop=${STOP:-6}
dev_n=${DEV_N:-600}   # espeak-ng development utterances (about half spelled, half sentences)
piper_n=${PIPER_N:-200}
alphas=${ALPHAS:-0 0.2 0.3 0.4 0.5 0.6 0.7 0.8 1}
v10=${INIT_MODEL:-harken/pretrained/models/harken_en_small.nemo}
stage_on() { [ "$stage" -le "$1" ] && [ "$1" -le "$stop" ]; }
dry=${DRY_RUN:+echo}
harken="$dry ${HARKEN:-harken}"
python="$dry ${PYTHON:-python}"
ev="${data}_eval"
dev="${data}_dev"

if stage_on 1; then  # 1. development sets: run.sh's held-out voices (espeak-ng's 8, Piper joe) with another seed,
  # saying none of the evaluation sets' texts
  $harken data synth "$dev/espeak" --train 0 --val 0 --test "$dev_n" --seed 8 --jobs 2 \
    --text-file "$v1/sentences.txt" --sentence-share 0.5 --avoid-texts "$ev/espeak/test_manifest.json"
  $python "$v1/split_test.py" "$dev/espeak/test_manifest.json"
  $harken data synth "$dev/piper" --train 0 --val 0 --test "$piper_n" --seed 8 --jobs 2 \
    --text-file "$v1/sentences.txt" --sentence-share 0.5 --engines piper --avoid-texts "$ev/espeak/test_manifest.json"
fi

if stage_on 2; then  # 2. the mixes (1 - alpha) * v10 + alpha * phase A, and the choice by choose_mix.py's rule
  # shellcheck disable=SC2086  # the alphas are meant to split
  $python "$here/choose_mix.py" --base "$v10" --tuned "$exp/phaseA/selected.nemo" --alphas $alphas \
    --espeak-dev "$dev/espeak/test_spelled.json" "$dev/espeak/test_sentences.json" \
    --dev "$dev/piper/test_manifest.json" --out "$exp/phaseB/selected.nemo" --table "$exp/phaseB/mixes.md"
fi

if stage_on 3; then  # 3. the chosen mix on every evaluation set, beside v10 with paired intervals (whole sets)
  $python "$here/evaluate_v2.py" --model "$exp/phaseB/selected.nemo" --baseline "$v10" --sets "$ev" \
    --n 0 --out "$exp/phaseB/eval.md" --overwrite
fi

if stage_on 4; then  # 4. the recipe's LM: a word 3-gram (Kneser-Ney) from v1's book texts and this corpus's training
  # transcripts, without any evaluation or development text; LM weight and word bonus tuned on the development sets
  $harken lm build "$v1/sentences.txt" "$v1/sentences_extra.txt" --manifest "$data/train_manifest.json" --order 3 \
    --out "$exp/lm/3gram.arpa" --exclude "$ev/espeak/test_manifest.json" --exclude "$dev/espeak/test_manifest.json" \
    --exclude "$dev/piper/test_manifest.json" --overwrite
  $python "$v1/tune_lm.py" --model "$exp/phaseA/selected.nemo" --lm "$exp/lm/3gram.arpa" \
    --manifests "$dev/espeak/test_manifest.json" "$dev/piper/test_manifest.json" --out "$exp/lm/best_pair.txt"
fi

if stage_on 5; then  # 5. the LM column: phase A and the phase B mix beside v10, every set whole, beam search + LM
  pair=(--alpha A --beta B)  # what the file holds; a dry run has none to read
  [ -n "$dry" ] || read -ra pair < "$exp/lm/best_pair.txt"
  for run in phaseA phaseB; do
    $python "$here/evaluate_v2.py" --model "$exp/$run/selected.nemo" --baseline "$v10" --sets "$ev" --n 0 \
      --out "$exp/$run/eval_lm.md" --overwrite --lm "$exp/lm/3gram.arpa" "${pair[@]}"
  done
fi

if stage_on 6 && [ -n "${SHIP:-}" ]; then  # 6. only with SHIP=1, once eval.md meets the ship rule (README)
  $dry cp "$exp/phaseB/selected.nemo" harken/pretrained/models/harken_en_small.nemo
fi
