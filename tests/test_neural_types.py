import pytest
import torch

from harken.audio.mel import MelSpectrogramPreprocessor
from harken.core.neural_types import (
    AcousticEncodedRepresentation,
    AudioSignal,
    AxisKind,
    AxisType,
    Comparison,
    LengthsType,
    LogprobsType,
    MelSpectrogramType,
    NeuralType,
    SpectrogramType,
    VoidType,
)
from harken.core.typed_module import NeuralTypeError, connect, set_type_checking, type_of
from harken.modules.conv_asr import ConvASRDecoder, ConvASREncoder

BLOCKS = [dict(filters=16, repeat=1, kernel=[5], stride=[1], dilation=[1], dropout=0.0, residual=False)]


def test_compare_categories():
    mel = NeuralType(("B", "D", "T"), MelSpectrogramType())
    spec = NeuralType(("B", "D", "T"), SpectrogramType())
    assert mel.compare(mel) is Comparison.SAME
    assert mel.compare(spec) is Comparison.LESS
    assert spec.compare(mel) is Comparison.GREATER
    assert NeuralType(("B", "T", "D"), MelSpectrogramType()).compare(mel) is Comparison.TRANSPOSE_SAME
    sized = NeuralType((AxisType(AxisKind.Batch), AxisType(AxisKind.Dimension, 64), AxisType(AxisKind.Time)),
                       MelSpectrogramType())
    other = NeuralType((AxisType(AxisKind.Batch), AxisType(AxisKind.Dimension, 80), AxisType(AxisKind.Time)),
                       MelSpectrogramType())
    assert sized.compare(other) is Comparison.DIM_INCOMPATIBLE
    assert NeuralType(("B", "T"), AudioSignal(16000)).compare(
        NeuralType(("B", "T"), AudioSignal(8000))) is Comparison.SAME_TYPE_INCOMPATIBLE_PARAMS
    assert NeuralType(("B", "T"), AudioSignal(16000)).compare(
        NeuralType(("B", "T"), AudioSignal())) is Comparison.SAME  # None = any rate
    assert NeuralType(("B",), LengthsType()).compare(NeuralType(("B",), LogprobsType())) is Comparison.INCOMPATIBLE
    assert NeuralType(("B", "T"), LengthsType()).compare(NeuralType(("B",), LengthsType())) is Comparison.INCOMPATIBLE
    assert NeuralType(None, VoidType()).compare(mel) is Comparison.SAME


def test_static_connect_names_both_modules_and_types():
    enc = ConvASREncoder(BLOCKS, feat_in=64)
    dec = ConvASRDecoder(feat_in=16, num_classes=3)
    connect(enc, dec)  # fits
    with pytest.raises(NeuralTypeError) as e:
        connect(dec, enc)  # log-probs into an encoder
    msg = str(e.value)
    assert "ConvASRDecoder.logprobs" in msg and "ConvASREncoder.audio_signal" in msg
    assert "LogprobsType" in msg and "SpectrogramType" in msg


def test_runtime_mismatch_raises_with_port_and_types():
    set_type_checking(True)
    enc = ConvASREncoder(BLOCKS, feat_in=16).eval()
    dec = ConvASRDecoder(feat_in=16, num_classes=3).eval()
    x = torch.randn(2, 16, 20)
    lens = torch.tensor([20, 15])
    enc_out, enc_len = enc(x, lens)  # positional calls work
    assert isinstance(type_of(enc_out).elements, AcousticEncodedRepresentation)
    log_probs = dec(encoder_output=enc_out)
    with pytest.raises(NeuralTypeError) as e:
        enc(log_probs, lens)  # a [B, T, V] log-prob tensor where a spectrogram is expected
    msg = str(e.value)
    assert "ConvASREncoder.audio_signal" in msg and "LogprobsType" in msg and "SpectrogramType" in msg
    assert "from ConvASRDecoder.logprobs" in msg


def test_wrong_rank_and_sample_rate_are_caught():
    pre = MelSpectrogramPreprocessor(sample_rate=16000)
    with pytest.raises(NeuralTypeError, match=r"input_signal.*2-D"):
        pre(torch.zeros(1, 1, 1600), torch.tensor([1600]))
    set_type_checking(True)
    feats, _ = pre(torch.zeros(1, 1600), torch.tensor([1600]))
    assert isinstance(type_of(feats).elements, MelSpectrogramType)


def test_checking_off_costs_nothing_and_skips_checks():
    set_type_checking(False)
    try:
        enc = ConvASREncoder(BLOCKS, feat_in=16).eval()
        out, _ = enc(torch.randn(1, 16, 10), torch.tensor([10]))
        assert type_of(out) is None  # no tagging when off
    finally:
        set_type_checking(True)
