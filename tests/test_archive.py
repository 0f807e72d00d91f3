"""Save/restore round trip and the refusals of the .nemo reader."""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
import yaml

import harken
from harken.models.archive import ArchiveError, read_archive, write_archive


def _tar(path, members):
    with tarfile.open(path, "w:") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _file(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _config_bytes(nemo_fixture):
    return read_archive(nemo_fixture("quartznet_tiny") / "model.nemo").config


def test_save_restore_gives_identical_outputs(nemo_fixture, tmp_path):
    model = harken.load(nemo_fixture("quartznet_tiny") / "model.nemo")
    out = tmp_path / "copy.nemo"
    model.save(out)
    again = harken.load(out)
    x = torch.randn(2, 24000)
    lens = torch.tensor([24000, 17000])
    with torch.inference_mode():
        a, b = model(x, lens)[0], again(x, lens)[0]
    assert torch.equal(a, b)
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert names == ["./model_config.yaml", "./model_weights.ckpt"]
    cfg = read_archive(out).config
    assert cfg["target"] == "nemo.collections.asr.models.ctc_models.EncDecCTCModel"
    assert cfg["encoder"]["_target_"] == "nemo.collections.asr.modules.ConvASREncoder"
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_gzip_compressed_archive_loads(nemo_fixture, tmp_path):
    src = nemo_fixture("quartznet_tiny") / "model.nemo"
    gz = tmp_path / "old.nemo"
    with tarfile.open(src) as tin, tarfile.open(gz, "w:gz") as tout:
        for m in tin.getmembers():
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert harken.load(gz).transcribe(x) == harken.load(src).transcribe(x)


@pytest.mark.parametrize("name", ["/etc/model_config.yaml", "../model_config.yaml", "./a/../../x"])
def test_path_traversal_refused(tmp_path, name):
    bad = tmp_path / "bad.nemo"
    _tar(bad, [_file(name, b"x: 1\n")])
    with pytest.raises(ArchiveError, match="escapes the archive"):
        read_archive(bad)


def test_links_refused(tmp_path):
    bad = tmp_path / "link.nemo"
    info = tarfile.TarInfo("./model_weights.ckpt")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    _tar(bad, [(info, None)])
    with pytest.raises(ArchiveError, match="is a link"):
        read_archive(bad)


def test_pickle_needing_code_refused(tmp_path, nemo_fixture):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    cfg = yaml.safe_dump(_config_bytes(nemo_fixture)).encode()
    bad = tmp_path / "evil.nemo"
    _tar(bad, [_file("./model_config.yaml", cfg), _file("./model_weights.ckpt", pickle.dumps({"w": Evil()}))])
    with pytest.raises(ArchiveError, match="refused: the weights file needs arbitrary Python objects"):
        read_archive(bad)


def test_truncated_archive_refused(tmp_path, nemo_fixture):
    data = (nemo_fixture("quartznet_tiny") / "model.nemo").read_bytes()
    cut = tmp_path / "cut.nemo"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"cut\.nemo.*(truncated|corrupt)"):
        harken.load(cut)


def test_missing_members_and_mismatched_weights(tmp_path, nemo_fixture):
    empty = tmp_path / "empty.nemo"
    _tar(empty, [_file("./README", b"hi")])
    with pytest.raises(ArchiveError, match="expected model_config.yaml and model_weights.ckpt"):
        read_archive(empty)
    cfg = _config_bytes(nemo_fixture)
    cfg["encoder"]["jasper"][0]["filters"] = 32  # weights no longer fit
    buf = io.BytesIO()
    torch.save(read_archive(nemo_fixture("quartznet_tiny") / "model.nemo").state_dict, buf)
    odd = tmp_path / "odd.nemo"
    write_archive(odd, cfg, torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    with pytest.raises(ArchiveError, match="weights do not fit"):
        harken.load(odd)


def test_unknown_target_lists_supported(tmp_path, nemo_fixture):
    cfg = _config_bytes(nemo_fixture)
    cfg["encoder"]["_target_"] = "os.system"
    bad = tmp_path / "target.nemo"
    write_archive(bad, cfg, read_archive(nemo_fixture("quartznet_tiny") / "model.nemo").state_dict)
    with pytest.raises(ValueError, match=r"(?s)'os.system' is not a supported module.*ConvASREncoder"):
        harken.load(bad)


def test_devices_and_oversized_members_refused(tmp_path, monkeypatch):
    import harken.models.archive as archive

    dev = tmp_path / "dev.nemo"
    info = tarfile.TarInfo("./model_weights.ckpt")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    _tar(dev, [(info, None)])
    with pytest.raises(ArchiveError, match="device or special file"):
        read_archive(dev)
    big = tmp_path / "big.nemo"
    _tar(big, [_file("./model_config.yaml", b"x" * 2048)])
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 1024)
    with pytest.raises(ArchiveError, match="over the 1024 limit"):
        read_archive(big)


def test_training_checkpoint_without_harken_config_refused(tmp_path):
    import harken

    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ArchiveError, match=r"other\.ckpt.*harken_config"):
        harken.load(str(path))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ArchiveError, match=r"other\.ckpt.*not a readable training checkpoint"):
        harken.load(str(path))
