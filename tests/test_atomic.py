"""Atomic writes: whole files or none, with the permissions any new file would get."""

from __future__ import annotations

import os

import pytest

from harken.core.atomic import atomic_write_bytes, atomic_write_text


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "out.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "out.txt", "old")

    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
