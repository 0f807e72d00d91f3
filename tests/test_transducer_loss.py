"""RNNT and TDT losses against NeMo 3.0.0 (values and gradients, every reduction, FastEmit, TDT sigma, the
omega branch) and against brute force: a sum over every alignment of tiny lattices.

The fixture (tests/data/nemo/losses) is copied from shared/fixtures/nemo/losses: NeMo's numba RNNT loss,
its pure-PyTorch RNNT loss and `TDTLossPytorch` on fixed random logits (notes 18 and 19 of its README).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from harken.training.transducer_loss import reduce_losses, rnnt_loss, tdt_loss

from .conftest import NEMO

TOL = 1e-4
FIX = NEMO / "losses"
BLANK = 5


@pytest.fixture(scope="module")
def fix():
    inputs = dict(np.load(FIX / "inputs.npz"))
    return {"in": inputs, "grads": dict(np.load(FIX / "grads.npz")),
            "values": json.loads((FIX / "losses.json").read_text()),
            "args": [torch.from_numpy(inputs[k]) for k in ("targets", "input_lengths", "target_lengths")]}


def _run(fn, logits: np.ndarray, args, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Loss value and d(sum of the returned values)/d(logits), as the fixture's grads were made."""
    x = torch.tensor(logits, requires_grad=True)
    loss = fn(x, *args, BLANK, **kw)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("reduction", ["None", "mean_batch", "mean", "sum", "mean_volume"])
def test_rnnt_matches_nemo_numba(fix, reduction):
    value, grad = _run(rnnt_loss, fix["in"]["rnnt_logits"], fix["args"],
                       reduction=None if reduction == "None" else reduction)
    np.testing.assert_allclose(value, fix["values"]["rnnt"][reduction], rtol=0, atol=TOL)
    assert np.abs(grad - fix["grads"][f"rnnt_numba_grad_{reduction}"]).max() <= TOL


def test_rnnt_matches_nemo_pytorch_and_takes_log_probs(fix):
    logits = fix["in"]["rnnt_logits"]
    value, grad = _run(rnnt_loss, logits, fix["args"], reduction="none")
    np.testing.assert_allclose(value, fix["values"]["rnnt"]["pytorch_reference_per_utt"], rtol=0, atol=TOL)
    assert np.abs(grad - fix["grads"]["rnnt_pytorch_grad_None"]).max() <= TOL
    log_probs = torch.from_numpy(logits).log_softmax(-1).numpy()
    again, _ = _run(rnnt_loss, log_probs, fix["args"], reduction="none")
    np.testing.assert_allclose(again, fix["values"]["rnnt"]["per_utt_with_log_softmax_input"], rtol=0, atol=TOL)


def test_fastemit_value_and_gradient_match_nemo(fix):
    lam = 5e-3
    value, grad = _run(rnnt_loss, fix["in"]["rnnt_logits"], fix["args"], reduction="none", fastemit_lambda=lam)
    np.testing.assert_allclose(value, fix["values"]["rnnt"]["fastemit_5e-3_per_utt"], rtol=0, atol=TOL)
    np.testing.assert_allclose(value, (1 + lam) * np.array(fix["values"]["rnnt"]["None"]), rtol=1e-6)
    assert np.abs(grad - fix["grads"]["rnnt_numba_grad_None_fastemit_5e-3"]).max() <= TOL
    # the gradient is not (1 + lambda) x the NLL's: only label emissions are scaled
    plain = fix["grads"]["rnnt_numba_grad_None"]
    assert np.abs(grad - (1 + lam) * plain).max() > 1e-3


@pytest.mark.parametrize("sigma", ["0.0", "0.02", "0.05"])
@pytest.mark.parametrize("reduction", ["None", "mean_batch", "mean_volume"])
def test_tdt_matches_nemo_pytorch(fix, sigma, reduction):
    value, grad = _run(tdt_loss, fix["in"]["tdt_logits"], fix["args"], durations=[0, 1, 2, 3, 4],
                       sigma=float(sigma), reduction=None if reduction == "None" else reduction)
    np.testing.assert_allclose(value, fix["values"]["tdt"][f"sigma{sigma}_{reduction}"], rtol=0, atol=TOL)
    assert np.abs(grad - fix["grads"][f"tdt_pytorch_grad_sigma{sigma}_{reduction}"]).max() <= TOL


def test_tdt_omega_branch_is_nemo_rnnt_on_token_logits(fix):
    value, grad = _run(tdt_loss, fix["in"]["tdt_logits"], fix["args"], sigma=0.02, omega=1.0, reduction="none")
    np.testing.assert_allclose(value, fix["values"]["tdt"]["omega_branch_rnnt_on_label_logits_per_utt"],
                               rtol=0, atol=TOL)
    assert np.abs(grad[..., :BLANK + 1] - fix["grads"]["tdt_omega_branch_rnnt_grad_label_logits"]).max() <= TOL
    assert not grad[..., BLANK + 1:].any()
    # off by default: the same call without omega is the TDT loss, every time
    plain, _ = _run(tdt_loss, fix["in"]["tdt_logits"], fix["args"], sigma=0.02, reduction="none")
    np.testing.assert_allclose(plain, fix["values"]["tdt"]["sigma0.02_None"], rtol=0, atol=TOL)


def _brute_force(lp_tokens: torch.Tensor, lp_dur: torch.Tensor | None, target: list[int], t_len: int,
                 durations: list[int], blank: int) -> float:
    """-log of the sum over every alignment, enumerated one path at a time. Without duration log-probs
    (RNNT) a label lasts 0 frames and a blank 1."""
    total = []

    def walk(t: int, u: int, acc: float) -> None:
        for i, d in enumerate(durations):
            dur = float(lp_dur[t, u, i]) if lp_dur is not None else 0.0
            if d > 0 and (lp_dur is not None or d == 1):  # blank (RNNT: d = 1)
                w = acc + float(lp_tokens[t, u, blank]) + dur
                if t + d == t_len and u == len(target):
                    total.append(w)
                elif t + d < t_len:
                    walk(t + d, u, w)
            if u < len(target) and t + d < t_len and (lp_dur is not None or d == 0):  # label (RNNT: d = 0)
                walk(t + d, u + 1, acc + float(lp_tokens[t, u, target[u]]) + dur)

    walk(0, 0, 0.0)
    return -math.log(sum(math.exp(w) for w in total))


@pytest.mark.parametrize("kind", ["rnnt", "tdt", "tdt_no_zero"])
def test_matches_brute_force_sum_over_alignments(kind):
    g = torch.Generator().manual_seed(7)
    vocab, blank = 4, 3
    durations = {"rnnt": [0, 1], "tdt": [0, 1, 2, 3], "tdt_no_zero": [1, 2]}[kind]
    n_dur = 0 if kind == "rnnt" else len(durations)
    t_lens, u_lens = torch.tensor([5, 4, 3]), torch.tensor([2, 3, 0])
    logits = torch.randn(3, 5, 4, vocab + n_dur, generator=g, dtype=torch.float64)
    targets = torch.tensor([[1, 0, 0], [2, 2, 1], [0, 0, 0]])
    if kind == "rnnt":
        got = rnnt_loss(logits, targets, t_lens, u_lens, blank, reduction="none")
    else:
        got = tdt_loss(logits, targets, t_lens, u_lens, blank, durations=durations, sigma=0.03, reduction="none")
    for b in range(3):
        tokens = logits[b, ..., :vocab].log_softmax(-1) - (0 if kind == "rnnt" else 0.03)
        dur = None if kind == "rnnt" else logits[b, ..., vocab:].log_softmax(-1)
        want = _brute_force(tokens, dur, targets[b, : u_lens[b]].tolist(), int(t_lens[b]), durations, blank)
        assert float(got[b]) == pytest.approx(want, abs=1e-9), b


@pytest.mark.parametrize("kind", ["rnnt", "tdt"])
def test_explicit_backward_passes_gradcheck(kind):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 3, 4 + (3 if kind == "tdt" else 0), generator=g, dtype=torch.float64,
                         requires_grad=True)
    targets, t_lens, u_lens = torch.tensor([[0, 2], [1, 0]]), torch.tensor([4, 3]), torch.tensor([2, 1])

    def fn(x):
        if kind == "rnnt":
            return rnnt_loss(x, targets, t_lens, u_lens, 3, reduction="none")
        return tdt_loss(x, targets, t_lens, u_lens, 3, durations=[0, 1, 2], sigma=0.05, reduction="none")

    assert torch.autograd.gradcheck(fn, (logits,))


def test_reductions_and_errors():
    losses, lengths = torch.tensor([4.0, 6.0]), torch.tensor([2, 0])
    assert reduce_losses(losses, lengths, "mean").item() == pytest.approx((2 + 6) / 2)  # empty counts as 1
    assert reduce_losses(losses, lengths, "mean_volume").item() == pytest.approx(10 / 3)
    with pytest.raises(ValueError, match="reduction"):
        reduce_losses(losses, lengths, "avg")
    x = torch.zeros(1, 3, 2, 6)
    with pytest.raises(ValueError, match="lengths out of range"):
        rnnt_loss(x, torch.tensor([[1]]), torch.tensor([4]), torch.tensor([1]), 5)
    with pytest.raises(ValueError, match="durations"):
        tdt_loss(x, torch.tensor([[1]]), torch.tensor([3]), torch.tensor([1]), 5, durations=[0, 1])


def test_impossible_alignment_gives_inf_and_zero_gradient():
    # durations without 0 need a frame per label: 2 labels cannot fit in 1 frame
    x = torch.randn(1, 1, 3, 4 + 2, dtype=torch.float64, requires_grad=True)
    loss = tdt_loss(x, torch.tensor([[0, 1]]), torch.tensor([1]), torch.tensor([2]), 3, durations=[1, 2],
                    reduction="none")
    assert math.isinf(loss.item())
    loss.sum().backward()
    assert not x.grad.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(fix):
    for fn, key in ((rnnt_loss, "rnnt_logits"), (tdt_loss, "tdt_logits")):
        cpu = torch.tensor(fix["in"][key], requires_grad=True)
        gpu = cpu.detach().cuda().requires_grad_()
        a = fn(cpu, *fix["args"], BLANK, reduction="none")
        b = fn(gpu, *[x.cuda() for x in fix["args"]], BLANK, reduction="none")
        a.sum().backward()
        b.sum().backward()
        torch.testing.assert_close(b.cpu(), a.detach(), atol=1e-4, rtol=0)
        torch.testing.assert_close(gpu.grad.cpu(), cpu.grad, atol=1e-4, rtol=0)
