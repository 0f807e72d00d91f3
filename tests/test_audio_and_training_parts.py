import numpy as np
import pytest
import soundfile as sf
import torch

from harken.audio.io import AudioError, as_waveform, load_audio, save_wav
from harken.audio.spec_augment import SpectrogramAugmentation
from harken.training.optim import Novograd, build_optimizer, build_scheduler


def _sine(freq, seconds, sr):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_formats_mixdown_and_resampling(tmp_path, fmt):
    left, right = _sine(440, 1.0, 44100), _sine(880, 1.0, 44100)
    path = tmp_path / f"stereo.{fmt}"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    mono = load_audio(path, 16000)
    assert mono.dtype == np.float32 and abs(len(mono) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(mono))  # both tones survive the mixdown, at the right frequencies
    peaks = sorted(np.argsort(spectrum)[-2:])
    assert abs(peaks[0] - 440) <= 2 and abs(peaks[1] - 880) <= 2
    only_right = load_audio(path, 16000, channel=1)
    assert abs(np.argmax(np.abs(np.fft.rfft(only_right))) - 880) <= 2
    with pytest.raises(AudioError, match="channel 5 requested but audio has 2"):
        load_audio(path, 16000, channel=5)


def test_offset_and_duration_slice(tmp_path):
    ramp = np.linspace(-0.9, 0.9, 16000, dtype=np.float32)
    sf.write(tmp_path / "r.wav", ramp, 16000, subtype="FLOAT")
    part = load_audio(tmp_path / "r.wav", 16000, offset=0.25, duration=0.5)
    np.testing.assert_allclose(part, ramp[4000:12000])


def test_bad_files_are_named(tmp_path):
    with pytest.raises(AudioError, match="missing.wav: audio file not found"):
        load_audio(tmp_path / "missing.wav", 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: audio file is empty"):
        load_audio(tmp_path / "empty.wav", 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wave file" * 10)
    with pytest.raises(AudioError, match="junk.wav: cannot read audio"):
        load_audio(tmp_path / "junk.wav", 16000)


def test_arrays_and_tensors_accepted():
    x = _sine(300, 0.5, 16000)
    np.testing.assert_array_equal(as_waveform(torch.from_numpy(x), 16000), x)
    stereo_first = np.stack([x, x])  # [channels, samples]
    np.testing.assert_allclose(as_waveform(stereo_first, 16000), x)


def test_save_wav_round_trips_and_saturates(tmp_path):
    audio = np.array([0.0, 0.5, -0.25, 1.7, -3.0], np.float32)  # the last two would wrap around if not clipped
    path = save_wav(tmp_path / "deep" / "x.wav", audio, 16000)
    back = load_audio(path, 16000)
    np.testing.assert_allclose(back, [0.0, 0.5, -0.25, 1.0, -1.0], atol=1e-4)
    assert sf.info(str(path)).subtype == "PCM_16"
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]  # no temporary file left beside it


def test_spec_augment_masks_within_valid_length():
    torch.manual_seed(0)
    aug = SpectrogramAugmentation(freq_masks=2, time_masks=2, freq_width=10, time_width=0.2, rect_masks=2)
    spec = torch.ones(4, 64, 200)
    lengths = torch.tensor([200, 150, 100, 50])
    out = aug(spec, lengths)
    assert out.shape == spec.shape
    masked = out == 0
    assert masked.any(dim=(1, 2)).all()  # every row got masks
    for row, n in zip(masked, lengths.tolist()):
        full_columns = row.all(dim=0)  # time masks cover every band
        assert not full_columns[n:].any()  # never placed in the padding
        assert full_columns[:n].float().mean() <= 2 * 0.2 + 0.01


def test_novograd_reduces_a_quadratic():
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = Novograd([w], lr=0.1, betas=(0.95, 0.5), weight_decay=0.001)
    for _ in range(200):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
    assert w.abs().max() < 0.1


def test_warmup_then_cosine_schedule():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([w], {"name": "adamw", "lr": 1.0})
    sched = build_scheduler(opt, {"name": "CosineAnnealing", "warmup_steps": 4, "min_lr": 0.1}, total_steps=20)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == sorted(lrs[:4]) and lrs[3] < 1.0  # rising warmup
    assert lrs[4] == pytest.approx(1.0) and lrs[4:] == sorted(lrs[4:], reverse=True)
    assert lrs[-1] >= 0.1 and lrs[-1] < 0.12
    with pytest.raises(ValueError, match="optim.name='lamb'"):
        build_optimizer([w], {"name": "lamb"})
