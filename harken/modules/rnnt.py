"""The transducer heads of NeMo's RNNT/TDT models: the prediction network (`RNNTDecoder`) and the joint
(`RNNTJoint`), with NeMo's config keys as constructor arguments and NeMo's state-dict names
(`decoder.prediction.embed`, `decoder.prediction.dec_rnn.lstm`, `joint.enc`, `joint.pred`, `joint.joint_net`).

Blank is the last label (id = vocab_size). The prediction network starts from a zero input (the blank's
embedding row is the padding row) and zero LSTM states. The joint is Linear(enc) + Linear(pred), activation,
(dropout,) Linear to V + 1 tokens plus `num_extra_outputs` (TDT's duration logits). `TransducerHeads` wraps
both behind the step protocol that `harken.decoding.transducer_greedy` decodes with.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harken.core.neural_types import (
    AcousticEncodedRepresentation,
    ElementType,
    LabelsType,
    LengthsType,
    LogprobsType,
    NeuralType,
)
from harken.core.typed_module import TypedModule

State = tuple[torch.Tensor, torch.Tensor]  # LSTM (h, c), each [layers, B, H]


class PredictionLSTM(nn.Module):
    """NeMo's `LSTMDropout` layout (`.lstm`, dropout on the output), with its initialisation options."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float = 0.0,
                 forget_gate_bias: float | None = 1.0, t_max: int | None = None, weights_init_scale: float = 1.0,
                 hidden_hidden_bias_scale: float = 0.0, proj_size: int = 0):
        super().__init__()
        between = (dropout or 0.0) if num_layers > 1 else 0.0  # torch warns about it on one layer
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, dropout=between, proj_size=proj_size)
        self.dropout = nn.Dropout(dropout) if dropout else None
        n = hidden_size
        with torch.no_grad():  # initialisation only: loaded weights replace all of it
            for name, p in self.lstm.named_parameters():
                if "bias" not in name:
                    continue
                if t_max is not None:  # chrono initialisation
                    p.zero_()
                    p[n:2 * n] = torch.log(torch.empty(n).uniform_(1, t_max - 1))
                    p[:n] = -p[n:2 * n]
                elif forget_gate_bias is not None:
                    if "bias_ih" in name:
                        p[n:2 * n] = forget_gate_bias
                    else:
                        p[n:2 * n] *= hidden_hidden_bias_scale
            for p in self.parameters():
                p *= weights_init_scale

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x [U, B, H] (time first, as NeMo runs it) -> ([U, B, H], (h, c)). One step outside training (what
        decoding asks for) runs `lstm_step`: on CPU, torch's oneDNN LSTM costs several ms of setup per call
        (4-30 ms for one step of 2 x 640 on 2 EPYC cores, against 0.5-2 ms for the step itself)."""
        if x.shape[0] == 1 and not self.training and self.lstm.proj_size == 0:
            x, state = lstm_step(self.lstm, x, state)
        else:
            x, state = self.lstm(x, state)
        if self.dropout is not None:
            x = self.dropout(x)
        return x, state


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
    """One time step of a stacked `nn.LSTM` (no projection): x [1, B, input] -> ([1, B, H], (h, c)). The same
    operations in the same order as torch's native (non-oneDNN) CPU LSTM, so its outputs are bit-identical to
    it; oneDNN's, which NeMo runs, differ from both in the last bits (~1e-7 of the outputs)."""
    n, batch = lstm.num_layers, x.shape[1]
    if state is None:
        zeros = x.new_zeros(n, batch, lstm.hidden_size)
        state = (zeros, zeros)
    h, c = state
    inp, hs, cs = x[0], [], []
    for layer in range(n):
        w_ih, w_hh, b_ih, b_hh = (getattr(lstm, f"{name}_l{layer}", None)
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        gates = nn.functional.linear(h[layer], w_hh, b_hh).add_(nn.functional.linear(inp, w_ih, b_ih))
        i, f, g, o = gates.chunk(4, 1)
        cy = (f.sigmoid() * c[layer]).add_(i.sigmoid() * g.tanh())
        inp = o.sigmoid() * cy.tanh()
        hs.append(inp)
        cs.append(cy)
    return inp[None], (torch.stack(hs), torch.stack(cs))


class RNNTDecoder(TypedModule):
    """The prediction network: embedding (blank as the padding row) and a stacked LSTM."""

    input_types = {
        "targets": NeuralType(("B", "T"), LabelsType()),
        "target_length": NeuralType(("B",), LengthsType()),
        "states": NeuralType(optional=True),
    }
    output_types = {
        "outputs": NeuralType(("B", "D", "T"), ElementType()),
        "prednet_lengths": NeuralType(("B",), LengthsType()),
        "states": NeuralType(optional=True),
    }

    def __init__(self, prednet: dict, vocab_size: int, normalization_mode: str | None = None,
                 random_state_sampling: bool = False, blank_as_pad: bool = True, **ignored):
        super().__init__()
        if normalization_mode is not None:
            raise ValueError(f"decoder.normalization_mode={normalization_mode!r}: only null is supported")
        self.pred_hidden = int(prednet["pred_hidden"])
        self.pred_rnn_layers = int(prednet["pred_rnn_layers"])
        self.vocab_size = int(vocab_size)
        self.blank_idx = self.vocab_size
        self.blank_as_pad = bool(blank_as_pad)
        self.random_state_sampling = bool(random_state_sampling)  # training only; greedy starts from zeros
        rnn_hidden = int(prednet.get("rnn_hidden_size", -1) or -1)
        if blank_as_pad:
            embed = nn.Embedding(self.vocab_size + 1, self.pred_hidden, padding_idx=self.blank_idx)
        else:
            embed = nn.Embedding(self.vocab_size, self.pred_hidden)
        lstm = PredictionLSTM(
            self.pred_hidden, rnn_hidden if rnn_hidden > 0 else self.pred_hidden, self.pred_rnn_layers,
            dropout=float(prednet.get("dropout", 0.0) or 0.0), forget_gate_bias=prednet.get("forget_gate_bias", 1.0),
            t_max=prednet.get("t_max"), weights_init_scale=float(prednet.get("weights_init_scale", 1.0)),
            hidden_hidden_bias_scale=float(prednet.get("hidden_hidden_bias_scale", 0.0)),
            proj_size=self.pred_hidden if self.pred_hidden < rnn_hidden else 0,
        )
        self.prediction = nn.ModuleDict({"embed": embed, "dec_rnn": lstm})

    @property
    def blank_id(self) -> int:
        return self.blank_idx

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids -> embeddings; the blank gives zeros (the padding row, or masked without one)."""
        if self.blank_as_pad:
            return self.prediction["embed"](tokens)
        is_blank = tokens == self.blank_idx
        out = self.prediction["embed"](tokens.masked_fill(is_blank, 0))
        return out.masked_fill(is_blank[..., None], 0.0)

    def predict(self, tokens: torch.Tensor | None, state: State | None = None, add_sos: bool = True,
                batch_size: int | None = None) -> tuple[torch.Tensor, State]:
        """tokens [B, U] (None: one zero step) -> (outputs [B, U(+1 with add_sos), H], (h, c)), as NeMo's."""
        if tokens is None:
            b = batch_size or (state[0].shape[1] if state is not None else 1)
            param = self.prediction["embed"].weight
            y = torch.zeros(b, 1, self.pred_hidden, device=param.device, dtype=param.dtype)
        else:
            y = self.embed(tokens)
            if add_sos:
                y = torch.cat([torch.zeros_like(y[:, :1]), y], dim=1)
        g, state = self.prediction["dec_rnn"](y.transpose(0, 1), state)
        return g.transpose(0, 1), state

    def forward(self, targets: torch.Tensor, target_length: torch.Tensor, states: State | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Teacher forcing: targets [B, U] -> (outputs [B, H, U + 1] with the start step first, lengths, state)."""
        g, state = self.predict(targets, states, add_sos=True)
        return g.transpose(1, 2), target_length, state


class RNNTJoint(TypedModule):
    """joint(f, g) = joint_net(enc(f)[:, :, None] + pred(g)[:, None]) over [B, T, U, V + 1 + extra].

    `log_softmax`: None (NeMo's default) normalises only off CUDA, so NeMo's scores are CPU numbers; True
    always, False never. The outputs span the token and the duration logits together (NeMo does the same).
    """

    input_types = {
        "encoder_outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
        "decoder_outputs": NeuralType(("B", "D", "T"), ElementType()),
    }
    output_types = {"outputs": NeuralType(("B", "T", "T", "D"), LogprobsType())}

    def __init__(self, jointnet: dict, num_classes: int, vocabulary: Sequence[str] | None = None,
                 log_softmax: bool | None = None, num_extra_outputs: int = 0, **ignored):
        super().__init__()
        activation = str(jointnet["activation"]).lower()
        acts = {"relu": lambda: nn.ReLU(inplace=True), "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"joint.jointnet.activation={activation!r}: use one of {sorted(acts)}")
        if vocabulary is not None and len(vocabulary) != num_classes:
            raise ValueError(f"joint: num_classes={num_classes} but vocabulary has {len(vocabulary)} entries")
        hidden, dropout = int(jointnet["joint_hidden"]), float(jointnet.get("dropout", 0.0) or 0.0)
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.num_classes_with_blank = int(num_classes) + 1
        self.num_extra_outputs = int(num_extra_outputs or 0)
        self.log_softmax = log_softmax
        self.pred = nn.Linear(int(jointnet["pred_hidden"]), hidden)
        self.enc = nn.Linear(int(jointnet["encoder_hidden"]), hidden)
        layers = [acts[activation]()] + ([nn.Dropout(dropout)] if dropout else [])
        self.joint_net = nn.Sequential(*layers, nn.Linear(hidden, self.num_classes_with_blank + self.num_extra_outputs))

    @property
    def blank_id(self) -> int:
        return self.num_classes_with_blank - 1

    def project_encoder(self, f: torch.Tensor) -> torch.Tensor:
        """[..., encoder_hidden] -> [..., joint_hidden]: done once per frame, not once per decoding step."""
        return self.enc(f)

    def project_prednet(self, g: torch.Tensor) -> torch.Tensor:
        return self.pred(g)

    def joint_logits(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Projected f [..., H] + projected g [..., H] (broadcast) -> raw logits [..., V + 1 + extra]."""
        return self.joint_net(f + g)

    def normalise(self, logits: torch.Tensor) -> torch.Tensor:
        if self.log_softmax or (self.log_softmax is None and not logits.is_cuda):
            return logits.log_softmax(dim=-1)
        return logits

    def joint_after_projection(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """f [B, T, H], g [B, U, H], both projected -> [B, T, U, V + 1 + extra], as NeMo returns it."""
        return self.normalise(self.joint_logits(f.unsqueeze(2), g.unsqueeze(1)))

    def joint(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """f [B, T, encoder_hidden], g [B, U, pred_hidden] -> [B, T, U, V + 1 + extra]."""
        return self.joint_after_projection(self.project_encoder(f), self.project_prednet(g))

    def forward(self, encoder_outputs: torch.Tensor, decoder_outputs: torch.Tensor) -> torch.Tensor:
        """encoder [B, D, T], prediction network [B, H, U] -> [B, T, U, V + 1 + extra] (no fused loss)."""
        return self.joint(encoder_outputs.transpose(1, 2), decoder_outputs.transpose(1, 2))


class TransducerHeads:
    """The torch prediction network and joint behind the decoding step protocol
    (`harken.decoding.transducer_step.TransducerStep`): projections are applied once, logits are raw."""

    def __init__(self, decoder: RNNTDecoder, joint: RNNTJoint, durations: Sequence[int] = ()):
        if decoder.blank_idx != joint.blank_id:
            raise ValueError(f"decoder blank {decoder.blank_idx} != joint blank {joint.blank_id}: "
                             "decoder.vocab_size and joint.num_classes must agree")
        if len(durations) != joint.num_extra_outputs:
            raise ValueError(f"{len(durations)} TDT durations but the joint has {joint.num_extra_outputs} extra "
                             "outputs")
        self.decoder, self.joint_module = decoder, joint
        self.blank_id = decoder.blank_idx
        self.durations = [int(d) for d in durations]

    def encoder_frames(self, encoded: torch.Tensor) -> torch.Tensor:
        """Encoder output [B, C, T] -> what `joint` takes per frame, [B, T, H]."""
        return self.joint_module.project_encoder(encoded.transpose(1, 2))

    def predict(self, tokens: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """tokens [B] (the blank: the start input) -> (projected prediction [B, H], new state)."""
        g, state = self.decoder.predict(tokens[:, None], state, add_sos=False)
        return self.joint_module.project_prednet(g[:, 0]), state

    def joint(self, frames: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """[B, H] and [B, H] -> raw logits [B, V + 1 + len(durations)]."""
        return self.joint_module.joint_logits(frames, pred)

    @staticmethod
    def merge_states(new: State, old: State, take_new: torch.Tensor) -> State:
        """Per row: the new state where `take_new` [B], else the old one."""
        m = take_new[None, :, None]
        return tuple(torch.where(m, n, o) for n, o in zip(new, old))  # type: ignore[return-value]
