"""Build real-size transducer models with NeMo's own classes and random (seeded) weights, and save them as .nemo.
Run with the NeMo venv's python (never imported by harken or its tests):

    $NEMO_VENV/bin/python bench/make_real_size.py --out $RUN_DIR
    $NEMO_VENV/bin/python bench/make_real_size.py --fixture tests/data/conformer_no_bias   # the tests' fixture

Writes to --out (keep it outside the repository: the files are ~2.4 GB and ~0.45 GB):
    tokenizer/                    a 1,024-piece SentencePiece BPE (NeMo's `create_spt_model`), trained on
                                  recipes/harken_en_small/sentences.txt
    parakeet_tdt_0.6b.nemo        parakeet-tdt-0.6b-v2's architecture (EncDecRNNTBPEModel, TDT)
    parakeet_tdt_ctc_110m.nemo    parakeet-tdt_ctc-110m's size (EncDecHybridRNNTCTCBPEModel, TDT + CTC)
    make_real_size.json           parameter counts, seeds, versions

Random weights decode degenerately: NeMo's initialisation makes the joint's scores barely depend on the frame, so
greedy TDT emits the same token with duration 0 ten times (max_symbols) on every frame: 7,500 tokens a minute,
~40x a real model's rate, and the benchmark would time nothing but the prediction-network loop. So, after the
seeded build, two numbers of the joint's output bias are set (`calibrate`): duration 0 is lowered by 2 (tokens
then mostly advance) and the blank raised by the offset at which NeMo's own greedy decoding of a calibration
utterance (espeak-ng, en-gb, sentences the benchmark does not use) emits about 3.3 tokens per second, about what
a 1,024-piece English model emits. Every other weight is NeMo's seeded initialisation.

The architectures are written down from the published model_config.yaml files as remembered, not read from them
(no network here). Assumed for 0.6b-v2: `use_bias: false` (no bias in the Conformer layers' linear and conv
layers), `xscaling: true`, prediction network 2 x LSTM 640 with dropout 0.2, joint 640 relu, TDT durations
[0, 1, 2, 3, 4], greedy_batch with max_symbols 10. For 110m: 17 x 512, 80 mel features, `use_bias: true` (NeMo's
default), `xscaling: true`, prediction network 1 x LSTM 640, joint 640, CTC head on the encoder (loss weight 0.3).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT / "recipes" / "harken_en_small" / "sentences.txt"
DURATIONS = [0, 1, 2, 3, 4]
VOCAB = 1024


def preprocessor(features: int) -> dict:
    return {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor", "sample_rate": 16000,
            "normalize": "per_feature", "window_size": 0.025, "window_stride": 0.01, "window": "hann",
            "features": features, "n_fft": 512, "log": True, "frame_splicing": 1, "dither": 1.0e-05, "pad_to": 0,
            "pad_value": 0.0}


def encoder(feat_in: int, n_layers: int, d_model: int, use_bias: bool) -> dict:
    return {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": feat_in, "feat_out": -1,
            "n_layers": n_layers, "d_model": d_model, "use_bias": use_bias, "subsampling": "dw_striding",
            "subsampling_factor": 8, "subsampling_conv_channels": 256, "causal_downsampling": False,
            "ff_expansion_factor": 4, "self_attention_model": "rel_pos", "n_heads": 8, "att_context_size": [-1, -1],
            "att_context_style": "regular", "xscaling": True, "untie_biases": True, "pos_emb_max_len": 5000,
            "conv_kernel_size": 9, "conv_norm_type": "batch_norm", "conv_context_size": None, "dropout": 0.1,
            "dropout_pre_encoder": 0.1, "dropout_emb": 0.0, "dropout_att": 0.1}


def model_config(tokenizer_dir: Path, feat_in: int, n_layers: int, d_model: int, use_bias: bool, pred_layers: int,
                 ctc: bool) -> dict:
    cfg = {
        "sample_rate": 16000,
        "train_ds": None, "test_ds": None,
        "validation_ds": {"manifest_filepath": None, "sample_rate": 16000, "batch_size": 16, "shuffle": False,
                          "use_start_end_token": False, "num_workers": 0, "pin_memory": False},  # transcribe reads it
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "model_defaults": {"enc_hidden": d_model, "pred_hidden": 640, "joint_hidden": 640,
                           "tdt_durations": DURATIONS, "num_tdt_durations": len(DURATIONS)},
        "preprocessor": preprocessor(feat_in),
        "spec_augment": {"_target_": "nemo.collections.asr.modules.SpectrogramAugmentation", "freq_masks": 2,
                         "time_masks": 10, "freq_width": 27, "time_width": 0.05},
        "encoder": encoder(feat_in, n_layers, d_model, use_bias),
        "decoder": {"_target_": "nemo.collections.asr.modules.RNNTDecoder", "normalization_mode": None,
                    "random_state_sampling": False, "blank_as_pad": True, "vocab_size": VOCAB,
                    "prednet": {"pred_hidden": 640, "pred_rnn_layers": pred_layers, "t_max": None, "dropout": 0.2}},
        "joint": {"_target_": "nemo.collections.asr.modules.RNNTJoint", "log_softmax": None,
                  "preserve_memory": False, "fuse_loss_wer": True, "fused_batch_size": 4, "num_classes": VOCAB,
                  "num_extra_outputs": len(DURATIONS),
                  "jointnet": {"joint_hidden": 640, "activation": "relu", "dropout": 0.2, "encoder_hidden": d_model,
                               "pred_hidden": 640}},
        "decoding": {"strategy": "greedy_batch", "model_type": "tdt", "durations": DURATIONS,
                     "greedy": {"max_symbols": 10}},
        "loss": {"loss_name": "tdt", "tdt_kwargs": {"fastemit_lambda": 0.0, "clamp": -1.0, "durations": DURATIONS,
                                                    "sigma": 0.02, "omega": 0.1}},
        "optim": {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.98], "weight_decay": 1e-3},
    }
    if ctc:
        cfg["aux_ctc"] = {"ctc_loss_weight": 0.3, "use_cer": False, "ctc_reduction": "mean_batch",
                          "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": d_model,
                                      "num_classes": -1, "vocabulary": []},
                          "decoding": {"strategy": "greedy_batch"}}
    return cfg


MODELS = {
    "parakeet_tdt_0.6b": dict(feat_in=128, n_layers=24, d_model=1024, use_bias=False, pred_layers=2, ctc=False),
    "parakeet_tdt_ctc_110m": dict(feat_in=80, n_layers=17, d_model=512, use_bias=True, pred_layers=1, ctc=True),
}


TOKENS_PER_S = 3.3
CALIBRATION_LINES = range(2000, 2012)  # sentences.txt lines; bench_real_size.py's audio uses lines from 100


def calibration_audio():
    """~30-40 s of espeak-ng (en-gb) speech at 16 kHz, float32."""
    import io
    import subprocess

    import numpy as np
    import soundfile as sf
    import soxr

    lines = TEXT.read_text().splitlines()
    parts = []
    for i in CALIBRATION_LINES:
        wav = subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "160", "--stdout", "--", lines[i]],
                             capture_output=True, check=True).stdout
        audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
        parts += [soxr.resample(audio, sr, 16000).astype(np.float32), np.zeros(4800, dtype=np.float32)]
    return np.concatenate(parts)


def calibrate(model, audio) -> dict:
    """Lower duration 0 by 2 and bisect the blank's bias offset until greedy decoding emits ~TOKENS_PER_S."""
    import torch

    bias = model.joint.joint_net[-1].bias
    blank = model.decoder.blank_idx
    seconds = len(audio) / 16000
    target = TOKENS_PER_S * seconds
    with torch.inference_mode():
        enc, enc_len = model(input_signal=torch.from_numpy(audio)[None],
                             input_signal_length=torch.tensor([len(audio)]))
    original = bias.detach().clone()

    def tokens(offset: float) -> int:
        with torch.no_grad():
            bias.copy_(original)
            bias[blank] += offset
            bias[blank + 1] -= 2.0  # duration 0
        with torch.inference_mode():
            hyps = model.decoding.rnnt_decoder_predictions_tensor(encoder_output=enc, encoded_lengths=enc_len)
        hyp = (hyps[0] if isinstance(hyps, tuple) else hyps)[0]
        return len(hyp.y_sequence)

    lo, hi = 0.0, 1.0
    while tokens(hi) > target:  # find an offset that emits too few
        lo, hi = hi, hi * 2
    best = (float("inf"), hi, 0)
    for _ in range(24):
        mid = (lo + hi) / 2
        n = tokens(mid)
        best = min(best, (abs(n - target), mid, n))
        if abs(n - target) <= 0.05 * target:
            break
        lo, hi = (mid, hi) if n > target else (lo, mid)
    _, offset, n = best
    tokens(offset)  # leave the chosen biases in the model
    return {"blank_offset": offset, "duration0_offset": -2.0, "tokens": n, "target_tokens": round(target),
            "calibration_audio_s": round(seconds, 2), "encoder_frames": int(enc_len[0])}


def train_tokenizer(out: Path) -> Path:
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    folder = out / "tokenizer"
    if not (folder / "tokenizer.model").exists():
        folder.mkdir(parents=True, exist_ok=True)
        create_spt_model(str(TEXT), VOCAB, sample_size=-1, do_lower_case=False, tokenizer_type="bpe",
                         output_dir=str(folder))
    return folder


def build(name: str, tokenizer_dir: Path, seed: int):
    import torch
    from nemo.collections.asr.models import EncDecHybridRNNTCTCBPEModel, EncDecRNNTBPEModel
    from omegaconf import OmegaConf

    spec = MODELS[name]
    cls = EncDecHybridRNNTCTCBPEModel if spec["ctc"] else EncDecRNNTBPEModel
    torch.manual_seed(seed)
    return cls(cfg=OmegaConf.create(model_config(tokenizer_dir, **spec)), trainer=None)


def make_fixture(folder: Path, seed: int) -> None:
    """A tiny NeMo-made `use_bias: false` FastConformer TDT (2 layers of 32, 64 BPE pieces, BatchNorm statistics
    perturbed) with NeMo's eval-mode outputs on a 1.5 s probe, for tests/test_conformer_options.py."""
    import numpy as np
    import soundfile as sf
    import torch
    from nemo.collections.asr.models import EncDecRNNTBPEModel
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model
    from omegaconf import OmegaConf

    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "_tokenizer"
    create_spt_model(str(TEXT), 64, sample_size=-1, do_lower_case=False, tokenizer_type="bpe", output_dir=str(work))
    cfg = model_config(work, feat_in=80, n_layers=2, d_model=32, use_bias=False, pred_layers=1, ctc=False)
    cfg["encoder"].update(n_heads=2, subsampling_conv_channels=32, pos_emb_max_len=500)
    cfg["model_defaults"].update(pred_hidden=32, joint_hidden=32)
    cfg["decoder"].update(vocab_size=64, prednet={"pred_hidden": 32, "pred_rnn_layers": 1, "t_max": None,
                                                  "dropout": 0.2})
    cfg["joint"]["jointnet"].update(joint_hidden=32, encoder_hidden=32, pred_hidden=32)
    cfg["joint"]["num_classes"] = 64
    torch.manual_seed(seed)
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(cfg), trainer=None)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                c = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                module.running_var.copy_(0.5 + torch.rand(c, generator=g))
    model.eval()
    model.save_to(str(folder / "model.nemo"))
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    n = 24000  # 1.5 s chirp + seeded noise
    t = np.arange(n) / 16000
    wave = 0.5 * np.sin(2 * np.pi * (150 * t + 900 * t**2)) + 0.02 * np.random.default_rng(seed).standard_normal(n)
    sf.write(folder / "probe.wav", wave.astype(np.float32), 16000, subtype="PCM_16")
    x, _ = sf.read(folder / "probe.wav", dtype="float32")
    with torch.inference_mode():
        enc, enc_len = model(input_signal=torch.from_numpy(x)[None], input_signal_length=torch.tensor([n]))
        hyps = model.decoding.rnnt_decoder_predictions_tensor(encoder_output=enc, encoded_lengths=enc_len)
    hyp = (hyps[0] if isinstance(hyps, tuple) else hyps)[0]
    np.save(folder / "encoded.npy", enc.numpy())
    (folder / "greedy.json").write_text(json.dumps({"ids": [int(i) for i in hyp.y_sequence], "text": hyp.text,
                                                    "nemo": __import__("nemo").__version__}) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", help="work folder outside the repository")
    p.add_argument("--only", choices=[*MODELS, "all"], default="all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fixture", help="instead: write the tiny use_bias=false test fixture to this folder")
    args = p.parse_args()
    from nemo.utils import logging as nemo_logging

    nemo_logging.setLevel(logging.ERROR)
    import nemo
    import torch

    torch.set_num_threads(2)
    if args.fixture:
        make_fixture(Path(args.fixture), args.seed)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = train_tokenizer(out)
    report = {"nemo": nemo.__version__, "torch": torch.__version__, "seed": args.seed, "text": str(TEXT),
              "models": {}}
    audio = calibration_audio()
    for name in MODELS if args.only == "all" else [args.only]:
        t0 = time.perf_counter()
        model = build(name, tokenizer_dir, args.seed).eval()
        built = time.perf_counter() - t0
        calibration = calibrate(model, audio)
        path = out / f"{name}.nemo"
        model.save_to(str(path))
        params = {part: sum(p.numel() for p in getattr(model, part).parameters())
                  for part in ("preprocessor", "encoder", "decoder", "joint", "ctc_decoder") if hasattr(model, part)}
        params["total"] = sum(p.numel() for p in model.parameters())
        report["models"][name] = {"class": type(model).__name__, "path": str(path), "bytes": path.stat().st_size,
                                  "params": params, "build_s": round(built, 1), "calibration": calibration,
                                  "encoder_config": copy.deepcopy(MODELS[name])}
        print(name, json.dumps(report["models"][name]), flush=True)
        del model
    (out / "make_real_size.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
