import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from harken.data.manifest import read_manifest
from harken.synth.corpus import make_corpus

LABELS = set(" abcdefghijklmnopqrstuvwxyz'")


def test_corpus_is_valid_and_test_voices_are_held_out(espeak_corpus):
    info = espeak_corpus
    assert info.counts == {"train": 10, "val": 4, "test": 4}
    assert not set(info.train_voices) & set(info.test_voices)
    for split, manifest in info.manifests.items():
        entries = read_manifest(manifest)
        assert len(entries) == info.counts[split]
        for e in entries:
            assert set(e.text) <= LABELS and e.text == e.text.strip() and e.text
            audio, sr = sf.read(e.audio_filepath)
            assert sr == 16000 and audio.ndim == 1
            assert abs(len(audio) / sr - e.duration) < 0.01
            assert np.sqrt(np.mean(audio ** 2)) > 0.01  # speech, not silence
            assert (e.extra["voice"] in info.test_voices) == (split == "test")


def test_same_seed_same_corpus_and_resume(tmp_path):
    a = make_corpus(tmp_path / "a", n_train=6, n_val=2, n_test=2, seed=3, jobs=2, progress=False)
    b = make_corpus(tmp_path / "b", n_train=6, n_val=2, n_test=2, seed=3, jobs=1, progress=False)
    rows = {s: [(e.text, e.extra) for e in read_manifest(a.manifests[s])] for s in a.manifests}
    assert rows == {s: [(e.text, e.extra) for e in read_manifest(b.manifests[s])] for s in b.manifests}
    wav_a = sorted((tmp_path / "a" / "wav").rglob("*.wav"))
    assert [p.read_bytes() for p in wav_a] == [p.read_bytes() for p in sorted((tmp_path / "b" / "wav").rglob("*.wav"))]

    victim, keeper = wav_a[0], wav_a[1]
    kept_mtime = keeper.stat().st_mtime_ns
    original = victim.read_bytes()
    victim.unlink()
    make_corpus(tmp_path / "a", n_train=6, n_val=2, n_test=2, seed=3, jobs=2, progress=False)
    assert victim.read_bytes() == original  # recreated identically
    assert keeper.stat().st_mtime_ns == kept_mtime  # finished files are not redone
    with pytest.raises(ValueError, match="planned differently"):  # old wavs would not match new texts
        make_corpus(tmp_path / "a", n_train=6, n_val=2, n_test=2, seed=4, jobs=2, progress=False)


def test_texts_only_writes_the_corpus_texts_without_audio(tmp_path):
    full = make_corpus(tmp_path / "full", n_train=6, n_val=2, n_test=2, seed=3, jobs=2, progress=False)
    plan = make_corpus(tmp_path / "plan", n_train=6, n_val=2, n_test=2, seed=3, texts_only=True)
    for split, manifest in full.manifests.items():
        assert plan.manifests[split].name == f"{split}_texts.json"
        assert [e.text for e in read_manifest(plan.manifests[split])] == [e.text for e in read_manifest(manifest)]
    assert not (tmp_path / "plan" / "wav").exists() and not list((tmp_path / "plan").glob("*_manifest.json"))


def test_cli_prints_corpus_size(tmp_path):
    run = subprocess.run([sys.executable, "-m", "harken", "data", "synth", str(tmp_path / "c"), "--train", "3",
                          "--val", "1", "--test", "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert re.search(r"train\s+3 utterances", run.stdout) and "unseen in training" in run.stdout
    more = subprocess.run([sys.executable, "-m", "harken", "data", "synth", str(tmp_path / "more"), "--train", "3",
                           "--val", "1", "--test", "0", "--seed", "1",
                           "--avoid-texts", str(tmp_path / "c" / "test_manifest.json")],
                          capture_output=True, text=True, timeout=120)
    assert more.returncode == 0, more.stderr
    assert "utterances saying an avoided text (closed command list excepted): 0" in more.stdout


def test_sentence_normalisation_writes_numbers_and_symbols_out():
    from harken.synth.normalize import normalize_sentence, number_words

    assert number_words(0) == "zero" and number_words(1_204_017) == "one million two hundred four thousand seventeen"
    assert normalize_sentence("It costs $42 & 5%!") == "it costs forty two dollars and five percent"
    assert normalize_sentence("Pi is 3.14, roughly.") == "pi is three point one four roughly"
    assert normalize_sentence("Don't stop — 'now'") == "don't stop now"
    assert normalize_sentence("Café au lait") is None  # not spellable in the labels: rejected, not altered


def test_text_file_sentences_and_held_out_test_texts(tmp_path):
    from harken.synth.corpus import plan

    text = tmp_path / "book.txt"
    text.write_text("The year was 1984. It rained on 3 days! Nobody came.\nA café opened.\nWe met at 10 am.\n")
    items = plan({"train": 40, "val": 5, "test": 10}, seed=2, text_file=str(text), sentence_share=0.5)
    sentences = {it.text for it in items if it.kind == "sentence"}
    assert sentences <= {"the year was one thousand nine hundred eighty four", "it rained on three days", "nobody came",
                         "we met at ten am"} and sentences
    test_texts = {it.text for it in items if it.split == "test"}
    train_texts = {it.text for it in items if it.split != "test"}
    assert not test_texts & train_texts  # the pool is big enough to hold every test text out
    assert len({it.amplitude for it in items}) > 5


def test_more_training_data_avoids_another_corpus_test_texts():
    from harken.synth.corpus import plan
    from harken.synth.texts import CLOSED_TEXTS

    first = plan({"train": 0, "val": 0, "test": 150}, seed=0)
    held_out = {it.text for it in first} - CLOSED_TEXTS
    again = {it.text for it in plan({"train": 900, "val": 50, "test": 0}, seed=0)}
    assert again & held_out  # without avoiding, a second corpus says some of them
    avoided = plan({"train": 900, "val": 50, "test": 0}, seed=0, avoid=frozenset(it.text for it in first))
    assert not {it.text for it in avoided} & held_out


def test_mandarin_corpus_with_chinese_character_labels(tmp_path):
    info = make_corpus(tmp_path / "cmn", n_train=6, n_val=2, n_test=2, seed=0, jobs=2, progress=False,
                       language="cmn")
    assert all(v.startswith("cmn-latn-pinyin") for v in info.train_voices + info.test_voices)
    assert not set(info.train_voices) & set(info.test_voices)
    for manifest in info.manifests.values():
        for e in read_manifest(manifest):
            assert e.text and all("\u4e00" <= c <= "\u9fff" for c in e.text)  # Hanzi only, no spaces
            audio, sr = sf.read(e.audio_filepath)
            assert sr == 16000 and np.sqrt(np.mean(audio ** 2)) > 0.01
    again = make_corpus(tmp_path / "cmn2", n_train=6, n_val=2, n_test=2, seed=0, jobs=1, progress=False,
                        language="cmn")
    first, second = (sorted((tmp_path / d / "wav").rglob("*.wav")) for d in ("cmn", "cmn2"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert again.counts == info.counts


def test_spelled_words_are_said_as_letter_names():
    from harken.synth.espeak import espeak_binary
    from harken.synth.texts import spelled

    text, spoken = spelled(np.random.default_rng(0))
    phonemes = subprocess.run([espeak_binary(), "-q", "-x", "-m", "-v", "en-us", "--",
                               spoken.replace(spoken[spoken.index(">") + 1:spoken.rindex("<")], "alan")],
                              capture_output=True, text=True).stdout
    assert phonemes.count("eI") == 2 and "a#" not in phonemes  # "A" is "ay", not the article's schwa


def test_splits_keep_kind_shares_and_validation_texts_are_new():
    from harken.synth.corpus import plan
    from harken.synth.texts import CLOSED_TEXTS

    items = plan({"train": 900, "val": 90, "test": 150}, seed=0)
    kinds = [it.kind for it in items if it.split == "train"]
    assert all(abs(kinds.count(k) / len(kinds) - 1 / 3) < 0.06 for k in set(kinds))
    train = {it.text for it in items if it.split == "train"}
    assert all(it.text not in train or it.text in CLOSED_TEXTS for it in items if it.split == "val")
    assert len(CLOSED_TEXTS - train) <= 2  # the command words are heard in training


def test_simulated_accent_moves_vowels_consistently_and_keeps_the_rest():
    from harken.synth.accent import as_phoneme_input, shift_vowels

    said = "g,oU t@ l'aIn n'aIn_:_: and\nD@2 l'eIzi d'0g\n"
    shifted = shift_vowels(said, {"aI": "OI", "0": "A:", "@": "V"})
    assert shifted == "g,oU tV l'OIn n'OIn_:_: and\nDV l'eIzi d'A:g\n"
    assert shift_vowels("h'e@ f'aI@", {"aI": "OI", "@": "V"}) == "h'e@ f'aI@"  # other vowels are not split up
    assert as_phoneme_input(shifted) == "[[g,oU tV l'OIn n'OIn_:_: and DV l'eIzi d'A:g]]"


def test_wide_variety_keeps_the_test_split_and_holds_its_voices_out():
    from harken.synth.corpus import TEST_VARIANTS, plan

    standard = plan({"train": 40, "val": 5, "test": 20}, seed=2)
    wide = plan({"train": 40, "val": 5, "test": 20}, seed=2, variety="wide")
    assert [i for i in standard if i.split == "test"] == [i for i in wide if i.split == "test"]
    train = [i for i in wide if i.split != "test"]
    assert not {i.voice for i in train} & {i.voice for i in wide if i.split == "test"}
    assert not any(i.voice.endswith(v) for i in train for v in TEST_VARIANTS)
    assert len({i.voice for i in train}) > 30  # far more than the standard 50-voice pool would give 45 draws
    assert {i.vowel_shift > 0 for i in train if i.split == "train"} == {True, False}
    assert not any(i.vowel_shift for i in wide if i.split != "train")


def test_accented_utterance_is_rendered(tmp_path):
    from dataclasses import replace

    from harken.synth.corpus import plan, render

    item = replace(next(i for i in plan({"train": 5, "val": 0, "test": 0}, seed=1) if i.kind != "spelled"),
                   vowel_shift=1.0)
    plain = replace(item, vowel_shift=0.0)
    assert render(item, tmp_path / "accent", 1, 16000) > 0.3 and render(plain, tmp_path / "plain", 1, 16000) > 0.3
    a, p = (sf.read(tmp_path / d / item.relpath)[0] for d in ("accent", "plain"))
    assert np.sqrt(np.mean(a ** 2)) > 0.01
    assert len(a) != len(p) or not np.array_equal(a, p)  # the vowels were said differently


def test_spell_words_spells_book_words_and_gives_validation_spelled_items(tmp_path):
    from harken.synth.corpus import plan
    from harken.synth.texts import CITIES, NAMES, SentencePool

    text = tmp_path / "book.txt"
    text.write_text("\n".join(f"the {w} walked past a quiet harbour at dawn" for w in NAMES[:60]) + "\n"
                    "Mountains rose beyond the river. Lanterns flickered over cobbled streets.\n")
    words = set(SentencePool(str(text)).words())
    before = plan({"train": 300, "val": 60, "test": 60}, seed=3, text_file=str(text), sentence_share=0.3)
    assert before == plan({"train": 300, "val": 60, "test": 60}, seed=3, text_file=str(text), sentence_share=0.3,
                          spell_words=0.0)  # off: every draw as before
    items = plan({"train": 300, "val": 60, "test": 60}, seed=3, text_file=str(text), sentence_share=0.3,
                 spell_words=1.0)
    names = {" ".join(w.replace(" ", "")) for w in NAMES + CITIES}
    spelled = {split: [it.text for it in items if it.split == split and it.kind == "spelled"]
               for split in ("train", "val", "test")}
    said = [t for split in spelled.values() for t in split]
    assert all(t.replace(" ", "") in words for t in said) and set(said) - names
    assert spelled["val"] and not set(spelled["val"]) & set(spelled["train"] + spelled["test"])
    with pytest.raises(ValueError, match="text file"):
        plan({"train": 5, "val": 0, "test": 0}, seed=0, spell_words=0.5)


def test_chain_shift_accent_moves_the_whole_chain_and_only_accented_training_items_get_one():
    from dataclasses import replace

    from harken.synth.accent import CHAIN_SHIFTS, accent, shift_vowels
    from harken.synth.corpus import plan

    mapping = accent(np.random.default_rng(0), 0.35, "diphthong")
    assert {v: mapping[v] for v in CHAIN_SHIFTS["diphthong"]} == CHAIN_SHIFTS["diphthong"]
    # the letters E, A, I, O spoken with the chain: each moves one step on, none onto itself
    assert shift_vowels("'i: 'eI 'aI 'oU", mapping) == "'eI 'aI 'OI 'aU"
    assert accent(np.random.default_rng(0), 0.35) == accent(np.random.default_rng(0), 0.35, "")

    before = plan({"train": 200, "val": 20, "test": 20}, seed=4, variety="wide")
    items = plan({"train": 200, "val": 20, "test": 20}, seed=4, variety="wide", chain_shifts=1.0)
    assert [replace(it, chain="") for it in items] == before  # only the chain is added
    assert all(bool(it.chain) == (it.vowel_shift > 0) for it in items)  # every accented item, and only those
    assert {it.chain for it in items if it.chain} == set(CHAIN_SHIFTS)
    half = plan({"train": 200, "val": 20, "test": 20}, seed=4, variety="wide", chain_shifts=0.5)
    assert 0 < sum(bool(it.chain) for it in half) < sum(bool(it.chain) for it in items)
    with pytest.raises(ValueError, match="variety"):
        plan({"train": 5, "val": 0, "test": 0}, seed=0, chain_shifts=0.5)


def test_plan_fingerprint_describes_items_as_before_later_fields_existed():
    from dataclasses import replace

    from harken.synth.corpus import Item, describe

    plain = Item("train", 3, "go", "go", "command", "en-us+m1", 150, 50, 100, True)
    # the form corpora made before vowel_shift and chain existed were fingerprinted with
    assert describe(plain) == ("Item(split='train', index=3, text='go', spoken='go', kind='command', "
                               "voice='en-us+m1', speed=150, pitch=50, amplitude=100, augment=True)")
    assert describe(replace(plain, vowel_shift=0.35)) == describe(plain)[:-1] + ", vowel_shift=0.35)"
    assert describe(replace(plain, vowel_shift=0.35, chain="southern")) == repr(
        replace(plain, vowel_shift=0.35, chain="southern"))
