"""The recipe's analysis scripts: plain functions, checked on hand-made alignments."""

import importlib.util
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "harken_en_small"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_error_types_tells_homophones_misspellings_and_run_together_words_apart():
    error_types = _load("error_types")
    ref = "i will write to him now and then go".split()
    hyp = "i will right tohim no and go".split()
    sounds_alike = {frozenset(("write", "right"))}
    kinds = [error_types.classify(group, lambda a, b: frozenset((a, b)) in sounds_alike)
             for run in error_types.error_runs(ref, hyp) for group in error_types.error_groups(run)]
    assert kinds == [
        ("homophone", 1, "write -> right"),
        ("run together or split", 2, "to him -> tohim"),
        ("one letter off", 1, "now -> no"),
        ("dropped word", 1, "then -> _"),
    ]
    assert sum(count for _, count, _ in kinds) == 5  # every word error counted once
