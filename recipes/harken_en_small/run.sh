#!/usr/bin/env bash
# harken_en_small from nothing: corpora -> fourteen training phases (resumable; RESULTS.md calls them 1, 2, 3, 5, 5b, 6,
# 7, 10, 12, 14, 15, 16, 17, 18, phases 4, 8, 9, 11 and 13 being experiments that were not kept) -> choice of checkpoint ->
# degraded test sets -> results -> packaged model -> a word n-gram LM for beam search, tuned on validation, and
# results with it.
#
#   bash recipes/harken_en_small/run.sh [DATA_DIR] [EXP_DIR]     # defaults: data/harken_en_small exp/harken_en_small
#   STAGE=4 bash recipes/harken_en_small/run.sh ...              # start at a stage (3, 4, 5, 7, 8, 9, 11, 13, 15, 17, 19, 21, 23, 25 train)
#   DRY_RUN=1 bash recipes/harken_en_small/run.sh ...            # print every command, run and write nothing
#
# Every stage can be re-run: synthesis and training continue where they stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-data/harken_en_small}
exp=${2:-exp/harken_en_small}
stage=${STAGE:-1}
dry=${DRY_RUN:+echo}  # a prefix on every command that acts: echo prints it instead
harken="$dry ${HARKEN:-harken}"
python="$dry ${PYTHON:-python}"

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

train() {  # train OUT_DIR TRAIN_MANIFESTS VAL_MANIFEST [overrides...]: resumes from OUT_DIR/checkpoints/last.ckpt
  local out=$1 train_m=$2 val_m=$3; shift 3
  local resume=(); [ -f "$out/checkpoints/last.ckpt" ] && resume=(--resume)
  $harken train "$here/config.yaml" --out "$out" "${resume[@]}" \
    model.train_ds.manifest_filepath="$train_m" model.validation_ds.manifest_filepath="$val_m" "$@"
}
wide="${data}_wide"

if [ "$stage" -le 3 ]; then  # 3. phase 1: 10,000 steps on the stage-1 corpus; checkpoints every 250 steps
  train "$exp/standard" "$data/train_manifest.json" "$data/val_manifest.json"
fi

if [ "$stage" -le 4 ]; then  # 4. phase 2: from phase 1's best weights, 9,000 steps on the wide corpus
  train "$exp/wide" "$wide/train_manifest.json" "$wide/val_manifest.json" init_from="$exp/standard/model.nemo" \
    model.optim.lr=0.002 model.optim.sched.warmup_steps=300 trainer.max_steps=9000
fi

if [ "$stage" -le 5 ]; then  # 5. phase 3: from phase 2's best weights, 8,000 more steps on the wide corpus
  train "$exp/phase3" "$wide/train_manifest.json" "$wide/val_manifest.json" init_from="$exp/wide/model.nemo" \
    model.optim.lr=0.0015 model.optim.sched.warmup_steps=200 trainer.max_steps=8000
fi

if [ "$stage" -le 6 ]; then  # 6. more corpora, all avoiding the test texts: 24k mostly new book sentences,
  # 20k with a fifth of them, 20k more where most spelled items spell book words instead of names, and a
  # second validation set of AN4-style utterances (letter-spelled names included: with --train 0 nothing
  # takes the closed list of names away from validation)
  $harken data synth "${data}_books" --train 24000 --val 200 --test 0 --seed 8 --jobs 2 \
    --text-file "$here/sentences_extra.txt" --sentence-share 0.8 --variety wide --avoid-texts "$wide/test_manifest.json"
  $harken data synth "${data}_spell" --train 20000 --val 100 --test 0 --seed 9 --jobs 2 \
    --text-file "$here/sentences_extra.txt" --sentence-share 0.2 --variety wide --avoid-texts "$wide/test_manifest.json"
  $harken data synth "${data}_letters" --train 20000 --val 400 --test 0 --seed 10 --jobs 2 \
    --text-file "$here/sentences_extra.txt" --sentence-share 0.2 --variety wide --spell-words 0.7 \
    --avoid-texts "$wide/test_manifest.json"
  $harken data synth "${data}_val_an4" --train 0 --val 600 --test 0 --seed 13 --jobs 2 --variety wide \
    --avoid-texts "$wide/test_manifest.json"
fi

widths() {  # the overrides for one width per encoder block; the decoder reads the last
  local i=0 f
  for f in "$@"; do echo "model.encoder.jasper.$i.filters=$f"; i=$((i + 1)); done
  echo "model.decoder.feat_in=${!#}"
}
mapfile -t grown < <(widths 384 384 384 576 576 768)  # phase 3's widths times 1.5

if [ "$stage" -le 7 ]; then  # 7. phase 5: phase 3's model grown 1.5x wider (init_from grow), 7,000 steps on all three
  train "$exp/phase5" "$wide/train_manifest.json,${data}_books/train_manifest.json,${data}_spell/train_manifest.json" \
    "$wide/val_manifest.json" init_from.path="$exp/phase3/model.nemo" init_from.grow=true "${grown[@]}" \
    model.optim.lr=0.0015 model.optim.sched.warmup_steps=300 trainer.max_steps=7000
fi

val_sets=("$wide/val_manifest.json" "${data}_val_an4/val_manifest.json")  # pooled: letter-spelled names included
val_pooled="${val_sets[0]},${val_sets[1]}"
chooser=("${val_sets[@]}")  # phase 15 adds the books validation set and its reverberant copy
choose() {  # choose RUN_DIR [MORE...]: its best or last checkpoint (or one of MORE), by the sets in $chooser pooled
  local run=$1; shift  # -> RUN_DIR/selected.nemo
  $python "$here/select_checkpoint.py" --out "$run/selected.nemo" --manifests "${chooser[@]}" \
    --candidates "$@" "$run"/checkpoints/{best,last}.ckpt
}
choose_with_tail_mean() {  # choose RUN_DIR BASELINE, with the mean of its last four kept checkpoints as a candidate
  local run=$1 baseline=$2
  $harken average "$run"/checkpoints/step_{12000,12500,13000}.ckpt "$run/checkpoints/last.ckpt" --out "$run/avg_tail.nemo"
  choose "$run" "$baseline" "$run/avg_tail.nemo"
}
four="$wide/train_manifest.json,${data}_books/train_manifest.json,${data}_spell/train_manifest.json"
four="$four,${data}_letters/train_manifest.json"  # phase 6's training corpora; phase 7 adds a fifth
five="$four,${data}_chains/train_manifest.json"  # phase 7's; phase 10 adds a sixth, phase 12 a seventh

if [ "$stage" -le 8 ]; then  # 8. phase 5b: 900 steps from phase 5's model on a spelling-heavier mix (no books
  # corpus), then the better of its best and last checkpoints by both validation sets pooled
  train "$exp/phase5b" "$wide/train_manifest.json,${data}_spell/train_manifest.json" "$wide/val_manifest.json" \
    init_from="$exp/phase5/model.nemo" "${grown[@]}" model.optim.lr=0.0005 model.optim.sched.warmup_steps=50 \
    trainer.max_steps=900 trainer.val_check_interval=300
  choose "$exp/phase5b"
fi

if [ "$stage" -le 9 ]; then  # 9. phase 6: from phase 5b's chosen checkpoint, 6,000 steps on all four corpora,
  # validated (and its best checkpoint kept) on both validation sets pooled
  train "$exp/phase6" "$four" "$val_pooled" init_from="$exp/phase5b/selected.nemo" "${grown[@]}" \
    model.optim.lr=0.001 model.optim.sched.warmup_steps=200 trainer.max_steps=6000
fi

if [ "$stage" -le 10 ]; then  # 10. phase 6's model: its best or last checkpoint, by both validation sets pooled
  choose "$exp/phase6"
fi

if [ "$stage" -le 11 ]; then  # 11. phase 7: a fifth corpus whose simulated accents move vowels in chains (and
  # most spelled items spell book words), then from phase 6's model 7,000 steps on all five corpora
  $harken data synth "${data}_chains" --train 24000 --val 200 --test 0 --seed 14 --jobs 2 \
    --text-file "$here/sentences_extra.txt" --sentence-share 0.3 --variety wide --spell-words 0.7 --chain-shifts 1.0 \
    --avoid-texts "$wide/test_manifest.json"
  train "$exp/phase7" "$five" "$val_pooled" \
    init_from="$exp/phase6/selected.nemo" "${grown[@]}" model.optim.lr=0.0008 model.optim.sched.warmup_steps=200 \
    trainer.max_steps=7000
fi

if [ "$stage" -le 12 ]; then  # 12. phase 7's model: its best or last checkpoint, by both validation sets pooled
  choose "$exp/phase7"
fi

wide_corpus() {  # wide_corpus DIR SEED SENTENCE_SHARE TEXT_FILE N_TRAIN AVOID...: the later corpora's recipe (wide
  # variety, 70% of spelled items spelling book words, half the simulated accents chain-shifted), no AVOID text said
  local dir=$1 seed=$2 share=$3 text=$4 n_train=$5; shift 5
  $harken data synth "$dir" --train "$n_train" --val 200 --test 0 --seed "$seed" --jobs 2 --text-file "$here/$text" \
    --sentence-share "$share" --variety wide --spell-words 0.7 --chain-shifts 0.5 --avoid-texts "$@"
}
books_val="${data}_books/val_manifest.json"
avoid_all=("$wide/test_manifest.json" "$wide/val_manifest.json" "$books_val" "${val_sets[1]}")  # every test and val text

if [ "$stage" -le 13 ]; then  # 13. phase 10: a sixth corpus speaking three times as many distinct book sentences
  # (sentences_more.txt), avoiding every test and validation text, then from phase 7's model 6,500 steps on all six
  # (RESULTS: the run was planned for 10,000 and shortened to 6,500 when it resumed from step 1,250)
  wide_corpus "${data}_more" 15 0.8 sentences_more.txt 60000 "${avoid_all[@]}"
  train "$exp/phase10" "$five,${data}_more/train_manifest.json" "$val_pooled" \
    init_from="$exp/phase7/selected.nemo" "${grown[@]}" model.optim.lr=0.0008 model.optim.sched.warmup_steps=200 \
    trainer.max_steps=6500
fi

if [ "$stage" -le 14 ]; then  # 14. phase 10's model: its best or last checkpoint, by both validation sets pooled
  choose "$exp/phase10"
fi

if [ "$stage" -le 15 ]; then  # 15. phase 12: a seventh corpus from the same sentences, half of it spelled items
  # (to give back some of the spelled share the sixth took), then from phase 10's model 5,000 steps on all seven
  # with a new data order (RESULTS: planned for 6,500, shortened to 5,000 when it resumed from step 500)
  wide_corpus "${data}_more2" 16 0.5 sentences_more.txt 60000 "${avoid_all[@]}"
  train "$exp/phase12" "$five,${data}_more/train_manifest.json,${data}_more2/train_manifest.json" "$val_pooled" \
    init_from="$exp/phase10/selected.nemo" "${grown[@]}" model.optim.lr=0.0006 model.optim.sched.warmup_steps=200 \
    trainer.max_steps=5000 +model.train_ds.seed=12
fi

if [ "$stage" -le 16 ]; then  # 16. phase 12's model: its best or last checkpoint or phase 10's model, by both
  # validation sets pooled
  choose "$exp/phase12" "$exp/phase10/selected.nemo"
fi

ten="$five,${data}_more/train_manifest.json,${data}_more2/train_manifest.json"
for c in wide2 spell3 fourth; do ten="$ten,${data}_$c/train_manifest.json"; done  # phases 14 and 15's ten corpora
if [ "$stage" -le 17 ]; then  # 17. phase 14: three more corpora (the wide corpus's book sentences in new audio; a
  # mostly spelled one; 44 more books' sentences, sentences_fourth.txt), then from phase 12's model 3,000 steps on all
  # ten with a new data order
  avoid3=("$wide/test_manifest.json" "$wide/val_manifest.json" "${val_sets[1]}")
  wide_corpus "${data}_wide2" 18 0.5 sentences.txt 60000 "${avoid3[@]}"
  wide_corpus "${data}_spell3" 19 0.3 sentences_more.txt 40000 "${avoid3[@]}"
  wide_corpus "${data}_fourth" 20 0.7 sentences_fourth.txt 60000 "${avoid_all[@]}"
  train "$exp/phase14" "$ten" "$val_pooled" \
    init_from="$exp/phase12/selected.nemo" "${grown[@]}" model.optim.lr=0.0005 model.optim.sched.warmup_steps=200 \
    trainer.max_steps=3000 +model.train_ds.seed=14
fi

if [ "$stage" -le 18 ]; then  # 18. phase 14's model: its best or last checkpoint or phase 12's model, by both
  # validation sets pooled
  choose "$exp/phase14" "$exp/phase12/selected.nemo"
fi

books_reverb="${data}_books/val_reverb/manifest.json"  # so that validation sees reverberant sentences
if [ "$stage" -le 19 ]; then  # 19. phase 15: from phase 14's model a whole pass over the ten corpora (13,375 steps),
  # validated on four sets: the two pooled ones, the books validation set and a reverberant copy of it
  $harken data perturb "$books_val" "$(dirname "$books_reverb")" --spec "{reverb: {min_rt60: 0.4, max_rt60: 0.6}}"
  train "$exp/phase15" "$ten" "$val_pooled,$books_val,$books_reverb" \
    init_from="$exp/phase14/selected.nemo" "${grown[@]}" model.optim.lr=0.0008 model.optim.sched.warmup_steps=300 \
    trainer.max_steps=13375 +model.train_ds.seed=15
fi

chooser+=("$books_val" "$books_reverb")  # from phase 15 on, the four validation sets pooled
if [ "$stage" -le 20 ]; then  # 20. phase 15's model (v8): its best or last checkpoint or phase 12's model (v7)
  choose "$exp/phase15" "$exp/phase12/selected.nemo"
fi

if [ "$stage" -le 21 ]; then  # 21. phase 16: from v8 a second whole pass over the ten corpora at a lower peak lr, in
  # bf16 mixed precision (the shipped run did its first 3,250 steps in float32, then resumed in bf16)
  train "$exp/phase16" "$ten" "$val_pooled,$books_val,$books_reverb" \
    init_from="$exp/phase15/selected.nemo" "${grown[@]}" model.optim.lr=0.0006 model.optim.sched.warmup_steps=300 \
    trainer.max_steps=13375 +model.train_ds.seed=16 trainer.precision=bf16-mixed
fi

if [ "$stage" -le 22 ]; then  # 22. phase 16's model: its best or last checkpoint or v8, by the four sets pooled
  choose "$exp/phase16" "$exp/phase15/selected.nemo"
fi

mapfile -t wider < <(widths 512 512 512 768 768 1024)  # phase 5's widths times 4/3
if [ "$stage" -le 23 ]; then  # 23. phase 17: phase 16's model grown 4/3 wider, a whole pass over the ten corpora in bf16,
  # a checkpoint kept every 500 steps for the mean of the last few
  train "$exp/phase17" "$ten" "$val_pooled,$books_val,$books_reverb" \
    init_from.path="$exp/phase16/selected.nemo" init_from.grow=true "${wider[@]}" model.optim.lr=0.0006 \
    model.optim.sched.warmup_steps=300 trainer.max_steps=13375 +model.train_ds.seed=17 trainer.precision=bf16-mixed \
    +trainer.keep_checkpoint_every_n_steps=500
fi

if [ "$stage" -le 24 ]; then  # 24. phase 17's model (v9): its best or last checkpoint, the mean of its last four, or v8
  choose_with_tail_mean "$exp/phase17" "$exp/phase15/selected.nemo"
fi

if [ "$stage" -le 25 ]; then  # 25. phase 18: from v9 a fourth whole pass over the ten corpora at its width, in bf16
  train "$exp/phase18" "$ten" "$val_pooled,$books_val,$books_reverb" \
    init_from="$exp/phase17/selected.nemo" "${wider[@]}" model.optim.lr=0.0005 model.optim.sched.warmup_steps=300 \
    trainer.max_steps=13375 +model.train_ds.seed=18 trainer.precision=bf16-mixed +trainer.keep_checkpoint_every_n_steps=500
fi

final="$exp/phase18"
if [ "$stage" -le 26 ]; then  # 26. the final model: phase 18's best or last checkpoint, the mean of its last four, or v9
  choose_with_tail_mean "$final" "$exp/phase17/selected.nemo"
fi

if [ "$stage" -le 27 ]; then  # 27. degraded copies of both test sets
  for set in spelled sentences; do
    m="$data/test_$set.json"
    $harken data perturb "$m" "$data/test_${set}_noise10" --spec "{white_noise: {min_snr_db: 10, max_snr_db: 10}}"
    $harken data perturb "$m" "$data/test_${set}_reverb" --spec "{reverb: {min_rt60: 0.4, max_rt60: 0.6}}"
    $harken data perturb "$m" "$data/test_${set}_telephone" --spec "{telephone: {}}"
    $harken data perturb "$m" "$data/test_${set}_speed0.9" --spec "{speed: {min_rate: 0.9, max_rate: 0.9}}"
    $harken data perturb "$m" "$data/test_${set}_speed1.1" --spec "{speed: {min_rate: 1.1, max_rate: 1.1}}"
  done
fi

if [ "$stage" -le 28 ]; then  # 28. WER/CER on every test set, written to results.md
  $python "$here/evaluate_all.py" --model "$final/selected.nemo" --data "$data" --out "$final/results.md"
fi

if [ "$stage" -le 29 ]; then  # 29. speed on 2 threads, then the model becomes harken's bundled default
  $python bench/bench_speed.py --model "$final/selected.nemo"        # a row in bench/RESULTS.md
  $dry cp "$final/selected.nemo" harken/pretrained/models/harken_en_small.nemo
fi

if [ "$stage" -le 30 ]; then  # 30. a word 3-gram LM for beam search: the book texts and every training transcript,
  # without the test sentences and the books validation set (tuning must not see its own sentences)
  IFS=, read -ra transcripts <<< "$five"
  $harken lm build "$here/sentences.txt" "$here/sentences_extra.txt" --order 3 --out "$exp/lm/3gram.arpa" \
    "${transcripts[@]/#/--manifest=}" --exclude "$wide/test_manifest.json" --exclude "${data}_books/val_manifest.json"
fi

if [ "$stage" -le 31 ]; then  # 31. LM weight and word bonus by validation, then every test set with beam search + LM
  $python "$here/tune_lm.py" --model "$final/selected.nemo" --lm "$exp/lm/3gram.arpa" \
    --manifests "${data}_books/val_manifest.json" "${data}_val_an4/val_manifest.json" --out "$exp/lm/best_pair.txt"
  pair=(--alpha A --beta B)  # what the file holds; a dry run has none to read
  [ -n "$dry" ] || read -ra pair < "$exp/lm/best_pair.txt"
  $python "$here/evaluate_all.py" --model "$final/selected.nemo" --data "$data" --out "$final/results_lm.md" \
    --lm "$exp/lm/3gram.arpa" "${pair[@]}"
fi
