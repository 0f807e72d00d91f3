"""Does training under bf16 autocast follow the same gradients as float32? A check run by hand before
switching a long run to `trainer.precision=bf16-mixed`.

    python bench/bf16_agreement.py --model MODEL.nemo --manifest train.json [--utterances 16] [--threads 2]

On one batch of real utterances (training mode: dither and SpecAugment drawn from the same seed) it prints the
CTC loss and the cosine between the flattened gradients of float32 and bf16, and, as the yardstick, the cosine
between two float32 gradients that differ only in the SpecAugment/dither draw: bf16 is harmless when its
disagreement is far smaller than the augmentation's own.
"""

from __future__ import annotations

import argparse
import random

import torch

import harken
from harken.audio.io import load_audio
from harken.data.dataset import collate_audio_text
from harken.data.manifest import read_manifest


def gradient(model, audio, lengths, targets, target_lengths, seed: int, bf16: bool) -> tuple[float, torch.Tensor]:
    model.zero_grad()
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        log_probs, enc_len = model(audio, lengths)[:2]
    loss = model.ctc_loss(log_probs, enc_len, targets, target_lengths)
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--utterances", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.load(args.model).train()
    rows = random.Random(1).sample(read_manifest(args.manifest), args.utterances)
    batch = collate_audio_text([(torch.from_numpy(load_audio(r.audio_filepath, model.sample_rate)),
                                 torch.tensor(model.tokenizer.encode(r.text))) for r in rows])
    loss32, g32 = gradient(model, *batch, seed=0, bf16=False)
    loss16, g16 = gradient(model, *batch, seed=0, bf16=True)
    _, g32b = gradient(model, *batch, seed=1, bf16=False)
    cos = torch.nn.functional.cosine_similarity
    print(f"{args.utterances} utterances of {args.manifest}")
    print(f"CTC loss: float32 {loss32:.4f}, bf16 {loss16:.4f}")
    print(f"gradient cosine, float32 vs bf16 (same draw): {cos(g32, g16, dim=0).item():.4f}")
    print(f"gradient cosine, float32 vs float32 (another SpecAugment/dither draw): {cos(g32, g32b, dim=0).item():.4f}")


if __name__ == "__main__":
    main()
