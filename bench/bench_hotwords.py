"""Hotwords (context biasing) on espeak-ng speech: recall of rare names, and WER where no name is said.

    .venv/bin/python bench/bench_hotwords.py [--model harken/pretrained/models/harken_en_small.nemo]
        [--weights 0.5,1,1.5,2,2.5,3,4,6] [--beam-size 16]

40 sentences each say one of 10 rare names (4 sentences a name), 80 say none (a few with words that sound
like a name's start: "zebra", "oral", "the bar ... bus"); four English voices. The sets are split in halves:
a "tune" half (2 sentences a name, 40 without names) on which the weight is chosen (the
highest name recall whose WER on the sentences without names moves by at most 0.5 points) and a "report"
half, different sentences, scored with every weight. Each utterance is decoded by beam search without
hotwords and with the 10 names as hotwords. Recall: name occurrences found as a word of the hypothesis.
False alarms: names in hypotheses of sentences that say none. Prints a markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

import torch

import harken
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.metrics.wer import corpus_wer
from harken.synth.espeak import speak

NAMES = ["zebulon", "ottoline", "thaddeus", "perpetua", "lysander", "ermengarde", "quillon", "barnabus", "oriel",
         "cassius"]

# four sentences per name, "{}" where it goes; the 1st and 3rd are tuned on, the 2nd and 4th reported
NAME_SENTENCES = [
    "please call {} tomorrow", "{} will bring the keys", "we met {} at the station", "tell {} the news",
    "the meeting with {} moved", "{} sent the report", "ask {} about the plan", "i think {} is right",
    "{} is late again", "have you seen {} today", "the letter was from {}", "{} found the old map",
    "we waited for {} all morning", "give the book to {}", "{} bought a new car", "my friend {} lives here",
    "{} opened the window", "did {} call you", "the dog belongs to {}", "{} wants to go home",
]
QUIET = [  # no name said (some words sound like a name's start); the 1st, 3rd, ... tuned on, the others reported
    "the weather was cold this morning", "she opened the door slowly", "the zebra ran across the field",
    "the train leaves at six", "he put the book on the table", "my brother likes to swim",
    "the children played in the garden", "please close the window", "there is a bird on the roof",
    "the otter swam in the river", "the coffee is too hot", "they walked along the river",
    "the shop closes early on sunday", "can you help me carry this", "the old man sat by the fire",
    "thanks for the lovely dinner", "the road was wet after the rain", "her sister works in a bank",
    "turn left at the next corner", "the cat is sleeping on the chair", "he forgot his keys again",
    "it was a perfect day for a walk", "we planted trees in the spring", "the bus was late this morning",
    "put the cups in the kitchen", "the other house has a red door", "the castle stands on a hill",
    "the quilt is on the bed", "the barn is full of hay", "she sells fresh fruit at the market",
    "the boat crossed the lake", "the bar is near the bus stop", "the oral exam was hard",
    "they talked about the game", "the water in the pool is warm", "the cash is in the drawer",
    "the farmer counted his sheep", "we found a quiet place to sit", "the lights went out at night",
    "please write your name here", "the kettle is on the stove", "we read the paper every day",
    "the baby is asleep upstairs", "he drove to the city last night", "the garden gate is broken",
    "she plays the piano very well", "the sun is shining again", "we ate lunch by the sea",
    "the teacher wrote on the board", "my shoes are under the bed", "the plane landed on time",
    "the horse ran across the yard", "they painted the fence white", "the soup needs more salt",
    "he lost his hat in the wind", "the store sells old books", "we took the early train home",
    "the radio played a sad song", "she wore a long blue coat", "the door was open all night",
    "the dog barked at the postman", "i left my bag at work", "the clock on the wall stopped",
    "the river is deep and wide", "we climbed the hill at dawn", "the tea is getting cold",
    "the boys kicked the ball over the wall", "he fixed the broken chair", "the milk went sour",
    "the room was dark and quiet", "she called her mother last night", "the ice on the pond is thin",
    "the barber cut my hair short", "the oriole sang in the tree", "put the cassette in the drawer",
    "the lion slept in the shade", "a quiet lane led to the farm", "the parcel came this morning",
    "thank you for the flowers", "the otters played on the bank",
]
VOICES = ["en-us", "en-gb", "en+m3", "en-us+f3"]


def corpus() -> list[dict]:
    """Every utterance: text, voice, the name it says (or None), and its half ("tune" or "report")."""
    items = []
    for n, name in enumerate(NAMES):
        for j in range(4):
            template = NAME_SENTENCES[(2 * n + j * 5) % len(NAME_SENTENCES)]
            items.append({"text": template.format(name), "voice": VOICES[(n + j) % 4], "name": name,
                          "half": "tune" if j % 2 == 0 else "report"})
    for i, text in enumerate(QUIET):
        items.append({"text": text, "voice": VOICES[i % 4], "name": None, "half": "tune" if i % 2 == 0 else "report"})
    return items


def scores(items: list[dict], hyps: list[str]) -> dict:
    named = [(it, h) for it, h in zip(items, hyps) if it["name"]]
    quiet = [(it, h) for it, h in zip(items, hyps) if not it["name"]]
    return {
        "recall": sum(it["name"] in h.split() for it, h in named) / len(named),
        "wer_names": 100 * corpus_wer([it["text"] for it, _ in named], [h for _, h in named]),
        "wer_quiet": 100 * corpus_wer([it["text"] for it, _ in quiet], [h for _, h in quiet]),
        "false_alarms": sum(w in NAMES for _, h in quiet for w in h.split()),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="harken/pretrained/models/harken_en_small.nemo")
    p.add_argument("--weights", default="0.5,1,1.5,2,2.5,3,4,6")
    p.add_argument("--beam-size", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(2)
    weights = [float(w) for w in args.weights.split(",")]
    model = harken.load(args.model)
    model.eval()
    items = corpus()
    log_probs = []
    for it in items:
        wave = torch.from_numpy(speak(it["text"], it["voice"], 160, 50, 16000))
        with torch.inference_mode():
            lp, n, _ = model(wave[None], torch.tensor([len(wave)]))
        log_probs.append(lp[0, : int(n[0])])

    def decode(**options) -> tuple[list[str], float]:
        decoder = BeamSearchDecoder.for_model(model, beam_size=args.beam_size, **options)
        start = time.perf_counter()
        ids = [decoder(lp) for lp in log_probs]
        return [model.tokenizer.decode(i) for i in ids], time.perf_counter() - start

    runs = {"none": decode()}
    for w in weights:
        runs[w] = decode(hotwords=NAMES, hotword_weight=w)
    halves = {half: [i for i, it in enumerate(items) if it["half"] == half] for half in ("tune", "report")}
    table = {}
    for key, (hyps, seconds) in runs.items():
        for half, idx in halves.items():
            table[key, half] = scores([items[i] for i in idx], [hyps[i] for i in idx])
        table[key, "seconds"] = seconds
    base = table["none", "tune"]["wer_quiet"]
    allowed = [w for w in weights if table[w, "tune"]["wer_quiet"] - base <= 0.5]
    chosen = max(allowed, key=lambda w: (table[w, "tune"]["recall"], -w)) if allowed else None

    command = " ".join(["python bench/bench_hotwords.py", *sys.argv[1:]])
    print(f"date {datetime.now(timezone.utc):%Y-%m-%d}; command: {command}")
    print(f"{sum(1 for it in items if it['name'])} name sentences, {sum(1 for it in items if not it['name'])} "
          f"without; voices {', '.join(VOICES)}; beam {args.beam_size}; chosen on the tune half: {chosen}\n")
    print("| hotword_weight | half | name recall | WER names | WER no names | false alarms | decode s (all 120 utt) |")
    print("|---|---|---|---|---|---|---|")
    for key in runs:
        for half in ("tune", "report"):
            s = table[key, half]
            label = "no hotwords" if key == "none" else f"{key:g}" + (" (default)" if key == chosen else "")
            print(f"| {label} | {half} | {s['recall']:.0%} | {s['wer_names']:.1f}% | {s['wer_quiet']:.1f}% | "
                  f"{s['false_alarms']} | {table[key, 'seconds']:.2f} |")
    if chosen is not None:
        print(f"\nreport half, {chosen:g} vs no hotwords (every changed hypothesis; names still missed):")
        for i in halves["report"]:
            a, b, it = runs["none"][0][i], runs[chosen][0][i], items[i]
            if a != b or (it["name"] and it["name"] not in b.split()):
                print(f"  {it['text']!r} ({it['voice']}): {a!r} -> {b!r}")

if __name__ == "__main__":
    main()
