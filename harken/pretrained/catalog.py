"""Named pretrained models: NVIDIA's public CTC, transducer and classification checkpoints, by their NeMo names.

`from_pretrained("stt_en_quartznet15x5")` downloads once into the cache and loads from there
afterwards. A local path, `file://` URL or http(s) URL works wherever a name does. The download
locations are the ones NeMo's `list_available_models()` publishes, and for Hugging Face names the file
`<name>.nemo` of the repository `nvidia/<name>` (what NeMo's `from_pretrained` fetches); their checksums
are not published, so they are checked only when known (`sha256`).

harken's own model (`harken_en_small`, recipes/harken_en_small) ships inside the package, so it needs
no download at all and is the default of `harken transcribe`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from harken.pretrained.download import DownloadError, cache_dir, fetch, offline, url_key

NGC = "https://api.ngc.nvidia.com/v2/models/nvidia"
BUNDLED_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "harken_en_small"
DEFAULT_VAD_MODEL = "harken_vad"  # frame VAD (recipes/vad_commands): `harken vad`, `harken transcribe --vad`
DEFAULT_COMMANDS_MODEL = "harken_commands_en"  # speech commands (recipes/vad_commands): `harken classify`
HF = "https://huggingface.co/nvidia"


@dataclass(frozen=True)
class ModelCard:
    name: str
    url: str
    family: str
    loads: bool  # whether this harken version can run the family yet
    sha256: str | None = None
    description: str = ""
    bundled: bool = False  # shipped in harken/pretrained/models/ (url is then that file's file:// URL)


def _ngc(name: str, version: str, family: str, loads: bool, folder: str = "nemo", file: str | None = None) -> ModelCard:
    return ModelCard(name, f"{NGC}/{folder}/{name}/versions/{version}/files/{file or name + '.nemo'}", family, loads)


def _hf(name: str, family: str, loads: bool, description: str = "") -> ModelCard:
    return ModelCard(name, f"{HF}/{name}/resolve/main/{name}.nemo", family, loads, description=description)


_CARDS = [
    ModelCard(DEFAULT_MODEL, (BUNDLED_DIR / f"{DEFAULT_MODEL}.nemo").as_uri(), "quartznet (characters)", True,
              description="English, harken's own: espeak-ng voices, spelled letters, digits, commands, sentences",
              bundled=True),
    ModelCard(DEFAULT_VAD_MODEL, (BUNDLED_DIR / f"{DEFAULT_VAD_MODEL}.nemo").as_uri(), "marblenet (frame VAD)", True,
              description="frame VAD, 20 ms frames, harken's own: espeak-ng speech over noise, music, babble",
              bundled=True),
    ModelCard(DEFAULT_COMMANDS_MODEL, (BUNDLED_DIR / f"{DEFAULT_COMMANDS_MODEL}.nemo").as_uri(),
              "matchboxnet (speech commands)", True, bundled=True,
              description="yes no up down left right on off stop go + unknown, silence; harken's own"),
    ModelCard("QuartzNet15x5Base-En", f"{NGC}/nemospeechmodels/versions/1.0.0a5/files/QuartzNet15x5Base-En.nemo",
              "quartznet (characters)", True, description="English, LibriSpeech+CV+WSJ+Fisher+SWB+NSC"),
    _ngc("stt_en_quartznet15x5", "1.0.0rc1", "quartznet (characters)", True),
    _ngc("stt_en_jasper10x5dr", "1.0.0rc1", "jasper (characters)", True),
    *[_ngc(f"stt_{lang}_quartznet15x5", "1.0.0rc1", "quartznet (characters)", True)
      for lang in ("ca", "de", "es", "fr", "it", "pl", "ru", "zh")],
    *[_ngc(f"stt_en_citrinet_{size}", "1.0.0rc1", "citrinet (BPE)", True) for size in (256, 512, 1024)],
    *[_ngc(f"stt_en_citrinet_{size}_gamma_0_25", "1.0.0", "citrinet (BPE)", True) for size in (256, 512, 1024)],
    _ngc("stt_en_conformer_ctc_small", "1.6.0", "conformer-ctc (BPE)", True),
    _ngc("stt_en_conformer_ctc_medium", "1.6.0", "conformer-ctc (BPE)", True),
    _ngc("stt_en_conformer_ctc_large", "1.10.0", "conformer-ctc (BPE)", True),
    _ngc("stt_en_conformer_ctc_xlarge", "1.10.0", "conformer-ctc (BPE)", True),
    _hf("stt_en_fastconformer_ctc_large", "fastconformer-ctc (BPE)", True),
    _hf("stt_en_fastconformer_ctc_xlarge", "fastconformer-ctc (BPE)", True),
    # transducers (TransducerModel): Parakeet RNNT/TDT, and hybrids that also carry a CTC head
    _hf("parakeet-tdt-0.6b-v2", "fastconformer-tdt (BPE)", True, "English, punctuation and capitals"),
    _hf("parakeet-tdt-0.6b-v3", "fastconformer-tdt (BPE)", True, "25 European languages, punctuation and capitals"),
    _hf("parakeet-rnnt-0.6b", "fastconformer-rnnt (BPE)", True, "English, lower case"),
    _hf("parakeet-rnnt-1.1b", "fastconformer-rnnt (BPE)", True, "English, lower case"),
    _hf("parakeet-tdt-1.1b", "fastconformer-tdt (BPE)", True, "English, lower case"),
    _hf("parakeet-tdt_ctc-110m", "fastconformer-hybrid tdt+ctc (BPE)", True, "English, punctuation and capitals"),
    _hf("parakeet-tdt_ctc-1.1b", "fastconformer-hybrid tdt+ctc (BPE)", True, "English, punctuation and capitals"),
    _hf("stt_en_fastconformer_hybrid_large_pc", "fastconformer-hybrid rnnt+ctc (BPE)", True,
        "English, punctuation and capitals"),
    _ngc("commandrecognition_en_matchboxnet3x1x64_v1", "1.0.0rc1", "matchboxnet (speech commands)", True),
    _ngc("commandrecognition_en_matchboxnet3x1x64_v2", "1.0.0rc1", "matchboxnet (speech commands)", True),
    _ngc("vad_marblenet", "1.0.0rc1", "marblenet (VAD)", True),
]
CATALOG: dict[str, ModelCard] = {card.name: card for card in _CARDS}


def resolve(name_or_path: str, progress: bool = True) -> Path:
    """A local `.nemo` path for a catalog name, path or URL, downloading into the cache if needed."""
    local = Path(name_or_path).expanduser()
    if local.exists():
        return local
    scheme = urlparse(name_or_path).scheme
    if scheme in ("file", "http", "https"):
        card = ModelCard(Path(urlparse(name_or_path).path).name or "model.nemo", name_or_path, "?", True)
        dest = cache_dir() / "urls" / url_key(name_or_path) / card.name  # by URL: same names never collide
    elif "://" in name_or_path:
        raise DownloadError(f"{name_or_path}: unsupported URL scheme {scheme!r}; use http, https or file")
    elif name_or_path in CATALOG and CATALOG[name_or_path].bundled:
        return _bundled(CATALOG[name_or_path])
    elif name_or_path in CATALOG:
        card = CATALOG[name_or_path]
        dest = cache_dir() / "models" / f"{card.name}.nemo"
    else:
        near = difflib.get_close_matches(name_or_path, CATALOG, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; `harken models list` shows the catalog"
        raise KeyError(f"{name_or_path!r} is neither a file nor a known pretrained model{hint}")
    if dest.exists() and card.sha256 is None:
        return dest
    if offline() and scheme != "file":
        raise DownloadError(
            f"offline mode (HARKEN_OFFLINE=1): {name_or_path} is not in the cache at {dest}; copy the .nemo "
            f"there (from {card.url}) or unset HARKEN_OFFLINE"
        )
    return fetch(card.url, dest, sha256=card.sha256, progress=progress)


def _bundled(card: ModelCard) -> Path:
    path = Path(urlparse(card.url).path)
    if not path.is_file():
        raise FileNotFoundError(f"{card.name}: the bundled model {path} is missing from this installation "
                                "(a checkout without it, or a package built without package data)")
    return path
