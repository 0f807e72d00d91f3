"""Do archives written by harken load in NeMo 3.0 and give harken's outputs? (run by hand, not in CI)

    bash ../shared/anchors/setup_nemo_venv.sh ~/.venvs/nemo
    .venv/bin/python bench/nemo_roundtrip.py --nemo-python ~/.venvs/nemo/bin/python [--table bench/RESULTS.md]

For every family: harken loads NeMo's fixture, saves it again with `model.save()`, and NeMo's
`restore_from` loads that file in its own venv and runs `forward()` on the probe; the outputs are
compared with harken's. Models harken builds itself from its shipped configs (random weights) are
checked the same way. Nothing of NeMo is imported into this process.
"""

from __future__ import annotations

import argparse
import json
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

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "nemo"
FAMILIES = ["quartznet_tiny", "jasper_dr", "quartznet_se", "citrinet_bpe", "conformer_ctc_bpe",
            "fastconformer_ctc_bpe", "matchboxnet", "marblenet_vad", "marblenet_frame_vad"]

NEMO_SIDE = r"""
import json, sys, numpy as np, soundfile as sf, torch
from nemo.core.classes import ModelPT
from nemo.collections.asr.models import ASRModel
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
        out[name] = {"class": type(model).__name__, "ok": True}
    except Exception as e:
        out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
print(json.dumps(out))
"""


def harken_output(model, wav: Path) -> np.ndarray:
    x, _ = sf.read(wav, dtype="float32")
    with torch.inference_mode():
        result = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
    return (result[0] if isinstance(result, tuple) else result).numpy()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nemo-python", required=True, help="python of a venv with nemo_toolkit[asr]==3.0.0")
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roundtrip_"))
    cases = {}
    for name in FAMILIES:
        model = harken.load(FIXTURES / name / "model.nemo")
        cases[f"{name} (NeMo fixture re-saved by harken)"] = (model, FIXTURES / name / "probe.wav")
    torch.manual_seed(0)
    for config in ("quick", "quartznet_5x5", "jasper_10x5dr"):
        cases[f"{config} (built by harken, random weights)"] = (
            ASRModel.from_config(load_named_config(config)).eval(), FIXTURES / "quartznet_tiny" / "probe.wav")
    half_case = "harken_en_small saved with float16 weights (`save(half=True)`)"
    cases[half_case] = (harken.from_pretrained("harken_en_small"), FIXTURES / "quartznet_tiny" / "probe.wav")
    jobs = []
    for i, (case, (model, wav)) in enumerate(cases.items()):
        path = work / f"{i}.nemo"
        model.save(path, half=case == half_case)
        if case == half_case:  # compare with what harken itself makes of the rounded weights
            cases[case] = (harken.load(path).eval(), wav)
        jobs.append((case, str(path), str(wav), str(work / f"{i}.npy")))
    run = subprocess.run([args.nemo_python, "-c", NEMO_SIDE, json.dumps(jobs)], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"NeMo side failed:\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    rows = []
    for (case, (model, wav)), (_, _, _, npy) in zip(cases.items(), jobs):
        r = report[case]
        if r["ok"]:
            diff = float(np.abs(np.load(npy) - harken_output(model, Path(wav))).max())
            verdict = "loads, outputs match" if diff <= 1e-4 else "loads, OUTPUTS DIFFER"
            rows.append(f"| {case} | {r['class']} | {verdict} | {diff:.2e} |")
        else:
            rows.append(f"| {case} | - | FAILS: {r['error']} | - |")
    print("\n".join(rows))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    command = "python bench/nemo_roundtrip.py --nemo-python ~/.venvs/nemo/bin/python"
    section = (f"\n## harken-written .nemo loaded by NeMo 3.0.0 ({stamp})\n\n`{command}`: harken saves, NeMo "
               "`restore_from` + `forward()` on the probe, max abs difference against harken's own output.\n\n"
               "| archive | NeMo class | result | max abs diff |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    with open(args.table, "a") as f:
        f.write(section)
    print(f"appended to {args.table}")


if __name__ == "__main__":
    main()
