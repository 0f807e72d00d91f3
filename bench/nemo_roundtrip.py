"""Do archives written by harken load in NeMo 3.0 and give harken's outputs? (run by hand, not in CI)

    bash ../shared/anchors/setup_nemo_venv.sh ~/.venvs/nemo
    .venv/bin/python bench/nemo_roundtrip.py --nemo-python ~/.venvs/nemo/bin/python [--only transducers]
        [--table bench/RESULTS.md]

For every family: harken loads NeMo's fixture, saves it again with `model.save()`, and NeMo's
`restore_from` loads that file in its own venv and runs `forward()` on the probe; the outputs are
compared with harken's. Models harken builds itself from its shipped configs (random weights) are
checked the same way. Transducers (RNNT, TDT, hybrid TDT+CTC) are compared on the encoder output and on
the greedy text each head decodes from it, and include models after `change_vocabulary`. Nothing of NeMo
is imported into this process; both sides run on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import harken
from harken.configs import load_named_config
from harken.models.ctc_model import ASRModel
from harken.models.transducer_model import TransducerModel

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "nemo"
FAMILIES = ["quartznet_tiny", "jasper_dr", "quartznet_se", "citrinet_bpe", "conformer_ctc_bpe",
            "fastconformer_ctc_bpe", "matchboxnet", "marblenet_vad", "marblenet_frame_vad"]
HALF_CASE = "harken_en_small saved with float16 weights (`save(half=True)`)"
TRANSDUCERS = ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"]

NEMO_SIDE = r"""
import json, sys, numpy as np, soundfile as sf, torch
from nemo.core.classes import ModelPT
from nemo.collections.asr.models import ASRModel
torch.set_num_threads(1)
jobs = json.loads(sys.argv[1])
out = {}
for name, nemo_path, wav, npy in jobs:
    try:
        model = ModelPT.restore_from(nemo_path, map_location="cpu").eval()
        x, _ = sf.read(wav, dtype="float32")
        with torch.inference_mode():
            result = model(input_signal=torch.from_numpy(x)[None], input_signal_length=torch.tensor([len(x)]))
        first = result[0] if isinstance(result, tuple) else result
        np.save(npy, first.numpy())
        texts = {}
        if hasattr(model, "joint"):  # transducers: greedy text of each head from the encoder output
            with torch.inference_mode():
                hyps = model.decoding.rnnt_decoder_predictions_tensor(encoder_output=result[0],
                                                                     encoded_lengths=result[1])
                hyp = (hyps[0] if isinstance(hyps, tuple) else hyps)[0]
                texts["rnnt"], texts["rnnt_ids"] = hyp.text, [int(i) for i in hyp.y_sequence]
                if getattr(model, "ctc_decoder", None) is not None:
                    log_probs = model.ctc_decoder(encoder_output=result[0])
                    hyps = model.ctc_decoding.ctc_decoder_predictions_tensor(log_probs, decoder_lengths=result[1])
                    texts["ctc"] = (hyps[0] if isinstance(hyps, tuple) else hyps)[0].text
        out[name] = {"class": type(model).__name__, "ok": True, "texts": texts}
    except Exception as e:
        out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
print(json.dumps(out))
"""


def harken_output(model, wav: Path) -> np.ndarray:
    x, _ = sf.read(wav, dtype="float32")
    with torch.inference_mode():
        result = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
    return (result[0] if isinstance(result, tuple) else result).numpy()


def harken_texts(model, wav: Path) -> dict[str, str]:
    """Greedy text of each transducer head from harken's encoder output (nothing for other families)."""
    if not isinstance(model, TransducerModel):
        return {}
    x, _ = sf.read(wav, dtype="float32")
    heads = ["rnnt"] + (["ctc"] if model.ctc_decoder is not None else [])
    texts = {}
    with torch.inference_mode():
        encoded, encoded_len = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
        for head in heads:
            model.change_decoding_strategy(decoder_type=head)
            seq = model.decode_encoded(encoded, encoded_len)[0]
            texts[head] = model.decode_text(seq)
            if head == "rnnt":
                texts["rnnt_ids"] = [int(i) for i in seq.token_ids]
    model.change_decoding_strategy(decoder_type="rnnt")
    return texts


def ctc_cases(work: Path) -> dict:
    cases = {}
    for name in FAMILIES:
        model = harken.load(FIXTURES / name / "model.nemo")
        cases[f"{name} (NeMo fixture re-saved by harken)"] = (model, FIXTURES / name / "probe.wav")
    torch.manual_seed(0)
    for config in ("quick", "quartznet_5x5", "jasper_10x5dr"):
        cases[f"{config} (built by harken, random weights)"] = (
            ASRModel.from_config(load_named_config(config)).eval(), FIXTURES / "quartznet_tiny" / "probe.wav")
    path = work / "half.nemo"
    harken.from_pretrained("harken_en_small").save(path, half=True)
    # compared with what harken itself makes of the rounded weights (saved again with half=True for NeMo)
    cases[HALF_CASE] = (harken.load(path).eval(), FIXTURES / "quartznet_tiny" / "probe.wav")
    return cases


def transducer_cases(work: Path) -> dict:
    """The fixtures, a tiny TDT built from the shipped config, and fixtures after `change_vocabulary` (a new
    48-piece SentencePiece for the hybrid, characters for the TDT)."""
    import sentencepiece as spm

    cases = {}
    for name in TRANSDUCERS:
        cases[f"{name} (NeMo fixture re-saved by harken)"] = (harken.load(FIXTURES / name / "model.nemo"),
                                                             FIXTURES / name / "probe.wav")
    torch.manual_seed(0)
    cases["fastconformer_tdt_tiny (built by harken, random weights)"] = (
        TransducerModel.from_config(load_named_config("fastconformer_tdt_tiny")).eval(),
        FIXTURES / "fastconformer_tdt_bpe" / "probe.wav")
    spm.SentencePieceTrainer.train(input=str(FIXTURES / "citrinet_bpe" / "text_corpus.txt"),
                                   model_prefix=str(work / "tokenizer"), vocab_size=48, model_type="bpe",
                                   character_coverage=1.0, minloglevel=2)
    hybrid = harken.load(FIXTURES / TRANSDUCERS[2] / "model.nemo")
    hybrid.change_vocabulary(str(work), "bpe")
    cases[f"{TRANSDUCERS[2]} after change_vocabulary(new SentencePiece, 48 pieces)"] = (
        hybrid, FIXTURES / TRANSDUCERS[2] / "probe.wav")
    tdt = harken.load(FIXTURES / TRANSDUCERS[1] / "model.nemo")
    tdt.change_vocabulary(list(" abcdefghijklmnopqrstuvwxyz'"))
    cases[f"{TRANSDUCERS[1]} after change_vocabulary(28 characters)"] = (tdt, FIXTURES / TRANSDUCERS[1] / "probe.wav")
    return cases


def run_nemo(cases: dict, work: Path, nemo_python: str) -> list[str]:
    """Save every case, let NeMo restore and run them, and compare: one table row per case."""
    jobs = []
    for i, (case, (model, wav)) in enumerate(cases.items()):
        path = work / f"{i}.nemo"
        model.save(path, half=case == HALF_CASE)
        jobs.append((case, str(path), str(wav), str(work / f"{i}.npy")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([nemo_python, "-c", NEMO_SIDE, json.dumps(jobs)], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"NeMo side failed:\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    rows = []
    for (case, (model, wav)), (_, _, _, npy) in zip(cases.items(), jobs):
        r = report[case]
        if not r["ok"]:
            rows.append(f"| {case} | - | FAILS: {r['error']} | - |" + (" - |" if isinstance(model, TransducerModel)
                                                                       else ""))
            continue
        diff = float(np.abs(np.load(npy) - harken_output(model, Path(wav))).max())
        verdict = "loads, outputs match" if diff <= 1e-4 else "loads, OUTPUTS DIFFER"
        row = f"| {case} | {r['class']} | {verdict} | {diff:.2e} |"
        if isinstance(model, TransducerModel):
            ours, theirs = harken_texts(model, Path(wav)), r["texts"]
            same = "same" if ours == theirs else f"DIFFERENT (harken {ours})"
            if ours != theirs and ours["rnnt_ids"] == theirs["rnnt_ids"]:
                same = f"same token ids, but harken's text is {ours['rnnt']!r}"
            shown = {head: text if len(text) <= 60 else text[:57] + "..." for head, text in theirs.items()
                     if head != "rnnt_ids"}
            row += " " + "; ".join(f"{head}: {text!r}" for head, text in shown.items()) + f", {same} |"
        rows.append(row)
    print("\n".join(rows))
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nemo-python", required=True, help="python of a venv with nemo_toolkit[asr]==3.0.0")
    p.add_argument("--only", choices=["all", "ctc", "transducers"], default="all",
                   help="ctc: the CTC/classifier families; transducers: RNNT/TDT/hybrid")
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="roundtrip_"))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    command = f"python bench/nemo_roundtrip.py --nemo-python {args.nemo_python} --only {args.only}"
    sections = []
    if args.only in ("all", "ctc"):
        rows = run_nemo(ctc_cases(work), work, args.nemo_python)
        sections.append(f"\n## harken-written .nemo loaded by NeMo 3.0.0 ({stamp})\n\n`{command}`: harken saves, "
                        "NeMo `restore_from` + `forward()` on the probe, max abs difference against harken's own "
                        "output.\n\n| archive | NeMo class | result | max abs diff |\n|---|---|---|---|\n"
                        + "\n".join(rows) + "\n")
    if args.only in ("all", "transducers"):
        rows = run_nemo(transducer_cases(work), work, args.nemo_python)
        sections.append(f"\n## NeMo round trip: transducers ({stamp})\n\n`{command}`: harken saves, NeMo 3.0.0 "
                        "`restore_from` + `forward()` on the probe (the encoder output: max abs difference against "
                        "harken's), then greedy decoding of that output with each head (`decoding."
                        "rnnt_decoder_predictions_tensor`, and `ctc_decoding` for hybrids), compared with harken's "
                        "greedy text from its own encoder output.\n\n| archive | NeMo class | result | encoder max "
                        "abs diff | NeMo greedy text, vs harken |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    with open(args.table, "a") as f:
        f.write("".join(sections))
    print(f"appended to {args.table}")


if __name__ == "__main__":
    main()
