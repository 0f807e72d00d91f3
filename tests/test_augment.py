import numpy as np
import pytest

from harken.augment import perturb
from harken.augment.perturb import Augmentor

SR = 16000


def _tone(freq=440.0, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _band_energy(x, lo, hi):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return spec[(f >= lo) & (f < hi)].sum()


def test_speed_gain_shift():
    rng = np.random.default_rng(0)
    x = _tone()
    faster = perturb.speed(x, SR, rng, min_rate=1.25, max_rate=1.25)
    assert abs(len(faster) - len(x) / 1.25) <= 2
    louder = perturb.gain(x, SR, rng, min_gain_dbfs=6, max_gain_dbfs=6)
    assert np.abs(louder).max() == pytest.approx(np.abs(x).max() * 10 ** (6 / 20), rel=1e-5)
    later = perturb.shift(x, SR, rng, min_shift_ms=10, max_shift_ms=10)
    assert np.all(later[:160] == 0) and np.array_equal(later[160:], x[:-160])


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_white_noise_hits_the_snr(snr):
    x = _tone()
    y = perturb.white_noise(x, SR, np.random.default_rng(1), min_snr_db=snr, max_snr_db=snr)
    measured = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    assert measured == pytest.approx(snr, abs=0.05)


def test_pink_noise_is_louder_at_low_frequencies():
    x = np.zeros(SR, dtype=np.float32) + 1e-3
    noise = perturb.colored_noise(x, SR, np.random.default_rng(2), min_snr_db=0, max_snr_db=0, color="pink") - x
    assert _band_energy(noise, 100, 500) > 3 * _band_energy(noise, 4000, 4400)


def test_telephone_band_removes_high_frequencies():
    x = _tone(300) + _tone(6000)
    y = perturb.telephone(x, SR, np.random.default_rng(0))
    assert len(y) == len(x)
    assert _band_energy(y, 5500, 6500) < 1e-3 * _band_energy(x, 5500, 6500)
    assert _band_energy(y, 250, 350) > 0.8 * _band_energy(x, 250, 350)


def test_reverb_adds_a_decaying_tail():
    x = np.zeros(SR, dtype=np.float32)
    x[:800] = _tone(seconds=0.05)
    y = perturb.reverb(x, SR, np.random.default_rng(3), min_rt60=0.5, max_rt60=0.5)
    tail = y[1600:4800]  # after the tone has ended
    assert np.sqrt(np.mean(tail ** 2)) > 1e-3
    assert np.mean(y[1600:3200] ** 2) > np.mean(y[6400:8000] ** 2)  # it decays


def test_babble_mixes_other_utterances():
    x = _tone(440)
    other = _tone(1500)
    y = perturb.babble(x, SR, np.random.default_rng(4), others=[other], min_snr_db=10, max_snr_db=10)
    assert _band_energy(y, 1450, 1550) > 100 * _band_energy(x, 1450, 1550)


def test_augmentor_probabilities_and_errors():
    x = _tone()
    assert np.array_equal(Augmentor({"white_noise": {"prob": 0.0}}, seed=0)(x, SR), x)
    assert not np.array_equal(Augmentor({"white_noise": {"prob": 1.0}}, seed=0)(x, SR), x)
    a, b = Augmentor({"gain": {"prob": 0.5}}, seed=7), Augmentor({"gain": {"prob": 0.5}}, seed=7)
    assert all(np.array_equal(a(x, SR), b(x, SR)) for _ in range(5))  # seeded
    with pytest.raises(ValueError, match="augmentor.echo: unknown perturbation"):
        Augmentor({"echo": {}})


def test_dataset_config_applies_the_augmentor(tmp_path):
    import soundfile as sf

    from harken.data.manifest import ManifestEntry, write_manifest
    from harken.text.char_tokenizer import CharTokenizer
    from harken.training.data import build_dataset

    sf.write(tmp_path / "a.wav", _tone(), SR, subtype="FLOAT")
    manifest = write_manifest(tmp_path / "m.json", [ManifestEntry("a.wav", 1.0, "a")])
    tok = CharTokenizer(list(" abc"))
    plain = build_dataset({"manifest_filepath": str(manifest)}, tok, SR)
    louder = build_dataset({"manifest_filepath": str(manifest),
                            "augmentor": {"gain": {"prob": 1.0, "min_gain_dbfs": 6, "max_gain_dbfs": 6}}}, tok, SR)
    ratio = louder[0][0].abs().max() / plain[0][0].abs().max()
    assert float(ratio) == pytest.approx(10 ** (6 / 20), rel=1e-4)


def test_perturbed_test_set_via_cli(tmp_path):
    import subprocess
    import sys

    import soundfile as sf

    from harken.data.manifest import ManifestEntry, read_manifest, write_manifest

    sf.write(tmp_path / "a.wav", _tone(), SR)
    manifest = write_manifest(tmp_path / "m.json", [ManifestEntry("a.wav", 1.0, "a tone")])
    run = subprocess.run([sys.executable, "-m", "harken", "data", "perturb", str(manifest), str(tmp_path / "noisy"),
                          "--spec", "{white_noise: {min_snr_db: 10, max_snr_db: 10}}"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (row,) = read_manifest(tmp_path / "noisy" / "manifest.json")
    noisy, _ = sf.read(row.audio_filepath, dtype="float32")
    x, _ = sf.read(tmp_path / "a.wav", dtype="float32")
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((noisy - x) ** 2))
    assert row.text == "a tone" and snr == pytest.approx(10.0, abs=0.2)  # 16-bit rounding moves it slightly


def test_perturbed_copy_of_a_manifest(tmp_path):
    import soundfile as sf

    from harken.data.manifest import ManifestEntry, iter_manifest, write_manifest
    from harken.data.perturb_manifest import perturb_manifest

    rows = []
    for i, freq in enumerate((300.0, 2000.0)):
        sf.write(str(tmp_path / f"{i}.wav"), _tone(freq), SR)
        rows.append(ManifestEntry(str(tmp_path / f"{i}.wav"), 1.0, f"tone {i}", extra={"speaker": "s"}))
    src = write_manifest(tmp_path / "in.json", rows)
    out = perturb_manifest(src, tmp_path / "slow", {"speed": {"min_rate": 0.8, "max_rate": 0.8}})
    copies = list(iter_manifest(out))
    assert [c.text for c in copies] == ["tone 0", "tone 1"]
    assert [c.extra["source"] for c in copies] == [r.audio_filepath for r in rows]
    assert all(c.extra["speaker"] == "s" for c in copies)
    for c in copies:  # speed 0.8 stretches 1 s to 1.25 s; the manifest's duration is the file's
        assert sf.info(c.audio_filepath).duration == pytest.approx(1.25, abs=0.01)
        assert c.duration == pytest.approx(sf.info(c.audio_filepath).duration, abs=1e-3)
