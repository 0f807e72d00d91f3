"""Hotwords (context biasing) in CTC prefix beam search: the context graph, the decoder, the CLI options."""

from __future__ import annotations

import argparse
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args, read_hotwords
from harken.decoding.context_graph import START, ContextGraph, normalize_hotwords
from harken.decoding.ctc_beam import HOTWORD_WEIGHT, BeamSearchDecoder
from harken.decoding.ngram_lm import build
from harken.text.char_tokenizer import CharTokenizer

LABELS = list("abcdefghijklmnopqrstuvwxyz '")


def feed(graph: ContextGraph, *texts: str):
    state = START
    for text in texts:
        state = graph.advance(state, text)
    return state


def test_a_whole_hotword_earns_the_weight_for_each_character():
    g = ContextGraph(["zebulon", "ottoline"], weight=1.5)
    for text in ["please call zebulon tomorrow", "zebulon", "call zebulon", "zebulon and ottoline"]:
        state = feed(g, text)
        found = g.find(text)
        assert g.final_bonus(state) == pytest.approx(1.5 * sum(len(w) for w in found)), text
        assert found == [w for w in text.split() if w in ("zebulon", "ottoline")]
    # the same text cut into other pieces (a BPE model's, spaces starting words) earns the same
    assert feed(g, " please", " call", " zeb", "ul", "on", " to", "morrow") == feed(g, "please call zebulon tomorrow")


def test_a_broken_partial_match_loses_its_bonus():
    g = ContextGraph(["zebulon"], weight=2.0)
    partial = feed(g, "call zebu")
    assert g.bonus(partial) == pytest.approx(2.0 * 4)  # counts while beams are ranked
    assert g.final_bonus(partial) == 0.0  # but not when the utterance ends there
    broken = g.advance(partial, "x")
    assert g.bonus(broken) == 0.0 and g.final_bonus(broken) == 0.0
    assert g.bonus(g.advance(broken, "lon ")) == 0.0  # the rest of the word cannot pick the match up again
    # a completed hotword keeps its bonus when a later match breaks
    assert g.final_bonus(feed(g, "zebulon met zebu")) == pytest.approx(2.0 * 7)
    assert g.bonus(feed(g, "zebulon met zebu")) == pytest.approx(2.0 * 11)


def test_hotwords_match_whole_words_only():
    g = ContextGraph(["zebulon"], weight=1.0)
    for text in ["zebulons", "azebulon", "callzebulon", "the zebulonian", "zebul on"]:
        assert g.final_bonus(feed(g, text)) == 0.0 and g.find(text) == [], text
    assert g.find("zebulon's zebulon") == ["zebulon"]


def test_phrases_and_hotwords_that_start_longer_ones():
    g = ContextGraph(["new york", "new"], weight=1.0)
    assert g.find("in new york today") == ["new york"]
    assert g.final_bonus(feed(g, "in new york today")) == 8
    assert g.find("a new yacht") == ["new"]  # the longer match broke: the shorter, whole one stays
    assert g.final_bonus(feed(g, "a new yacht")) == 3
    assert g.find("new new york") == ["new", "new york"]
    assert g.final_bonus(feed(g, "new new york")) == 11
    assert g.find("newer york") == []


def test_hotwords_are_normalised_and_unknown_characters_refused():
    pieces = CharTokenizer(LABELS).word_pieces
    assert normalize_hotwords(["  Zebulon ", "New   York", "zebulon"], pieces) == ["zebulon", "new york"]
    with pytest.raises(ValueError, match="Zoë"):
        normalize_hotwords(["Zoë"], pieces)
    with pytest.raises(ValueError, match="O'Brien-Smith"):
        BeamSearchDecoder(pieces, blank_id=len(LABELS), hotwords=["O'Brien-Smith"])
    with pytest.raises(ValueError, match="empty"):
        normalize_hotwords([" "], pieces)
    with pytest.raises(TypeError):
        BeamSearchDecoder(pieces, blank_id=len(LABELS), hotwords="zebulon")  # one string, not a list
    # word pieces: spelled by tokens, the first may bring the space that starts the word; case kept if used
    word_pieces = [" the", "re", " He", "x"]
    assert normalize_hotwords(["there", "He"], word_pieces) == ["there", "He"]
    with pytest.raises(ValueError, match="'rethe' cannot be spelled"):
        normalize_hotwords(["rethe"], word_pieces)


def spoken(text: str, unsure: dict[int, dict[str, float]], tok: CharTokenizer) -> np.ndarray:
    """Log-probs of `text` said one character a frame, each followed by a blank frame; at the positions in
    `unsure` the frame is split between the characters given."""
    ids = {c: i for i, c in enumerate(tok.labels)}
    vocab, blank = tok.vocab_size + 1, tok.blank_id
    rows = []
    for i, c in enumerate(text):
        rows.append({ids[k]: p for k, p in unsure.get(i, {c: 0.9}).items()})
        rows.append({blank: 0.9})
    out = np.empty((len(rows), vocab))
    for t, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (vocab - len(row))
        out[t] = [math.log(row.get(i, rest)) for i in range(vocab)]
    return out


def test_a_hotword_flips_an_unsure_word_and_nothing_else():
    tok = CharTokenizer(LABELS)
    # "zebulon" heard a little more as "zebulan"; "met" is sure
    lp = spoken("we met zebulon", {12: {"a": 0.5, "o": 0.4}}, tok)

    def decode(**options) -> str:
        return tok.decode(BeamSearchDecoder(tok.word_pieces, tok.blank_id, beam_size=8, **options)(lp))

    assert decode() == "we met zebulan"  # what the sound says
    assert decode(hotwords=["Zebulon"]) == "we met zebulon"
    assert decode(hotwords=["cassius", "ottoline"]) == "we met zebulan"  # other hotwords change nothing
    assert decode(hotwords=["zebulonia"]) == "we met zebulan"  # a match never completed earns nothing at the end
    assert decode(hotwords=["bulon"]) == "we met zebulan"  # not a whole word
    assert decode(hotwords=["Zebulon"], hotword_weight=0.01) == "we met zebulan"  # too small to matter
    assert decode(hotwords=["met zebulon"]) == "we met zebulon"  # a phrase
    lm = build(["we met him", "we met her"], order=2)  # with an LM, to which both spellings are unknown words
    assert decode(lm=lm) == "we met zebulan" and decode(lm=lm, hotwords=["zebulon"]) == "we met zebulon"


def test_cli_options_make_a_biased_beam_search(tmp_path):
    p = argparse.ArgumentParser()
    add_decoding_arguments(p)
    model = SimpleNamespace(tokenizer=CharTokenizer(LABELS), blank_id=len(LABELS))
    assert decoder_from_args(p.parse_args([]), model) is None  # greedy
    decoder = decoder_from_args(p.parse_args(["--hotwords", "Zebulon, ottoline,"]), model)
    assert decoder.beam_size == 16 and list(decoder.hotwords) == ["Zebulon", "ottoline"]
    assert decoder.hotword_weight == HOTWORD_WEIGHT
    names = tmp_path / "names.txt"
    names.write_text("zebulon\n\nnew york\n", encoding="utf-8")
    assert read_hotwords(f"@{names}") == ["zebulon", "new york"]
    decoder = decoder_from_args(p.parse_args(["--hotwords", f"@{names}", "--hotword-weight", "3"]), model)
    assert list(decoder.hotwords) == ["zebulon", "new york"] and decoder.hotword_weight == 3.0
    with pytest.raises(ValueError, match="cannot read"):
        read_hotwords(f"@{tmp_path / 'missing.txt'}")
    with pytest.raises(ValueError, match="needs --hotwords"):
        decoder_from_args(p.parse_args(["--hotword-weight", "3"]), model)
    with pytest.raises(ValueError, match="Zoë"):
        decoder_from_args(p.parse_args(["--hotwords", "Zoë"]), model)


def test_shipped_model_hears_the_names_it_is_given():
    import harken
    from harken.pretrained.catalog import DEFAULT_MODEL
    from harken.synth.espeak import speak

    names = ["zebulon", "ottoline", "thaddeus", "perpetua", "quillon", "oriel", "cassius"]
    said = [("tell cassius the news", "en-us"), ("ask perpetua about the plan", "en-gb"),
            ("we met quillon at the station", "en-us"), ("oriel found the old map", "en+m3")]
    model = harken.from_pretrained(DEFAULT_MODEL, progress=False)
    model.eval()
    plain = BeamSearchDecoder.for_model(model, beam_size=16)
    biased = BeamSearchDecoder.for_model(model, beam_size=16, hotwords=names)
    found = {"plain": 0, "biased": 0}
    for text, voice in said:
        wave = torch.from_numpy(speak(text, voice, 160, 50, 16000))
        with torch.inference_mode():
            lp, n, _ = model(wave[None], torch.tensor([len(wave)]))
        lp = lp[0, : int(n[0])]
        name = next(w for w in text.split() if w in names)
        for kind, decoder in (("plain", plain), ("biased", biased)):
            found[kind] += name in model.tokenizer.decode(decoder(lp)).split()
    assert found["biased"] > found["plain"], found
    assert found["biased"] >= 3, found
