"""Which formulation of QuartzNet's depthwise convolution is fastest, per shape and direction, on this CPU?

    python bench/bench_conv.py [--threads 1] [--seconds 5 16] [--batch 8] [--reps 15] [--encoder]

For each depthwise layer shape of QuartzNet 5x5 (channels, kernel, stride, dilation) at `--batch` utterances
of each length, it times every candidate for each direction -- forward, input gradient, weight gradient --
and, with --encoder, one forward + backward of the whole QuartzNet 5x5 encoder with each convolution route.
Candidates run round-robin (one call of each per round, `--reps` rounds after a warm-up), so a disturbance
of the machine hits all of them alike; the figure is the median CPU time of the process (time.process_time),
which a loaded machine inflates far less than wall time. `err` is each candidate's largest deviation from
F.conv1d relative to the largest value. The candidate harken uses is marked `*` (bench rows "harken").
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from harken.modules.conv_autograd import dw_forward, dw_input_grad, dw_weight_grad

# QuartzNet 5x5's depthwise layers: (channels, kernel, stride, dilation, input frames per second)
LAYERS = [(64, 33, 2, 1, 100), (256, 33, 1, 1, 50), (256, 39, 1, 1, 50), (512, 51, 1, 1, 50),
          (512, 63, 1, 1, 50), (512, 75, 1, 1, 50), (512, 87, 1, 2, 50)]


def _cl(t: torch.Tensor) -> torch.Tensor:
    return t.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def candidates(x: torch.Tensor, w: torch.Tensor, gy: torch.Tensor, s: int, p: int, d: int
               ) -> dict[str, dict[str, Callable[[], torch.Tensor]]]:
    """direction -> candidate name -> a call returning that direction's result (shaped as conv1d's)."""
    c, k = w.shape[0], w.shape[2]

    def backward_1d(mask):
        return torch.ops.aten.convolution_backward(gy, x, w, None, [s], [p], [d], False, [0], c, mask)

    def backward_cl(mask):
        return torch.ops.aten.convolution_backward(_cl(gy), _cl(x), w.unsqueeze(2), None, [1, s], [0, p],
                                                   [1, d], False, [0, 0], c, mask)

    def weight_grouped():
        """Batch as input channels: a grouped convolution whose kernel is the output gradient."""
        xp = F.pad(x, (p, p)).transpose(0, 1).reshape(1, c * x.shape[0], -1)
        return F.conv1d(xp, gy.transpose(0, 1), None, d, 0, s, c)[0, :, :k].unsqueeze(1)

    return {
        "forward": {
            "conv1d": lambda: F.conv1d(x, w, None, s, p, d, c),
            "conv2d-cl": lambda: F.conv2d(_cl(x), w.unsqueeze(2), None, (1, s), (0, p), (1, d), c).squeeze(2),
            "harken": lambda: dw_forward(x, w, s, p, d),
        },
        "grad_input": {
            "conv1d": lambda: backward_1d([True, False, False])[0],
            "conv2d-cl": lambda: backward_cl([True, False, False])[0].squeeze(2),
            "harken": lambda: dw_input_grad(gy, x, w, s, p, d),
        },
        "grad_weight": {
            "conv1d": lambda: backward_1d([False, True, False])[1],
            "conv2d-cl": lambda: backward_cl([False, True, False])[1].squeeze(2),
            "grouped": weight_grouped,
            "harken": lambda: dw_weight_grad(x, gy, k, s, p, d),
        },
    }


def race(calls: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median process CPU seconds per call, the candidates taking turns each round; the order rotates
    every round, so no candidate always follows the same one (whose cache traffic would bias it)."""
    for f in calls.values():
        f()
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(reps):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.process_time()
            calls[name]()
            times[name].append(time.process_time() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def layer_rows(batch: int, seconds: float, reps: int) -> list[str]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    for c, k, s, d, fps in LAYERS:
        t = int(seconds * fps)
        p = d * (k - 1) // 2
        x = torch.randn(batch, c, t, generator=gen)
        w = torch.randn(c, 1, k, generator=gen) / k ** 0.5
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = F.conv1d(xg, wg, None, s, p, d, c)
        gy = torch.randn(y.shape, generator=gen)
        refs = dict(zip(("forward", "grad_input", "grad_weight"), (y.detach(), *torch.autograd.grad(y, [xg, wg], gy))))
        for direction, calls in candidates(x, w, gy, s, p, d).items():
            ms = race(calls, reps)
            best_other = min(v for n, v in ms.items() if n != "harken")
            cells = []
            for name, sec in ms.items():
                ref = refs[direction]
                err = ((calls[name]() - ref).abs().max() / ref.abs().max()).item()
                cells.append(f"{name}{'*' if name == 'harken' else ''} {sec * 1e3:8.2f} ms (err {err:.0e})")
            shape = f"{batch}x{c}x{t} k{k} s{s} d{d}"
            rows.append(f"| {seconds:4g} s | {shape:<24} | {direction:<11} | {' | '.join(cells)} "
                        f"| {best_other / ms['harken']:5.2f}x |")
    return rows


def encoder_rows(batch: int, seconds: float, reps: int) -> list[str]:
    """Forward + backward of QuartzNet 5x5's encoder, each MaskedConv1d routed three ways."""
    from harken.configs import load_named_config
    from harken.modules.conv_asr import ConvASREncoder
    from harken.modules.jasper_block import MaskedConv1d

    torch.manual_seed(0)
    enc = ConvASREncoder(**load_named_config("quartznet_5x5")["model"]["encoder"]).train()
    convs = [m for m in enc.modules() if isinstance(m, MaskedConv1d)]
    frames = int(seconds * 100)
    feats = torch.randn(batch, 64, frames)
    lengths = torch.full((batch,), frames)

    def old_route(m):
        def convolve(x):
            c = m.conv
            if c.groups == c.in_channels == c.out_channels and c.kernel_size[0] > 1:
                return F.conv2d(_cl(x), c.weight.unsqueeze(2), c.bias, (1, c.stride[0]), (0, c.padding[0]),
                                (1, c.dilation[0]), c.groups).squeeze(2)
            return type(m)._convolve(m, x)
        return convolve

    routes = {"conv1d": lambda m: m.conv.__call__, "conv2d-cl": old_route, "harken": None}

    def step(route):
        def call():
            for m in convs:
                if routes[route] is not None:
                    object.__setattr__(m, "_convolve", routes[route](m))
            try:
                out, _ = enc(feats, lengths)
                out.square().mean().backward()
            finally:
                for m in convs:
                    vars(m).pop("_convolve", None)
        return call

    ms = race({r: step(r) for r in routes}, max(3, reps // 3))
    cells = " | ".join(f"{n}{'*' if n == 'harken' else ''} {v * 1e3:8.1f} ms" for n, v in ms.items())
    best_other = min(v for n, v in ms.items() if n != "harken")
    return [f"| {seconds:4g} s | encoder {batch}x64x{frames} | fwd+bwd | {cells} | {best_other / ms['harken']:5.2f}x |"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, nargs="+", default=[5.0, 16.0])
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--encoder", action="store_true", help="also time the whole encoder's forward + backward")
    p.add_argument("--skip-layers", action="store_true", help="only the encoder table")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {torch.backends.cpu.get_cpu_capability()}, "
          f"median process CPU time of {args.reps} alternating rounds; last column: best other / harken")
    print("| audio | shape | direction | candidates | speed-up |")
    print("|---|---|---|---|---|")
    for seconds in args.seconds:
        if not args.skip_layers:
            for row in layer_rows(args.batch, seconds, args.reps):
                print(row, flush=True)
        if args.encoder:
            for row in encoder_rows(args.batch, seconds, args.reps):
                print(row, flush=True)


if __name__ == "__main__":
    main()
