"""files.fsync_tree / fsync_dir, and the model cache installing an export only once synced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from questlog import files
from questlog.search import model_cache


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch os.fsync to note the path of every descriptor it syncs (then sync it)."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_fsync_tree_syncs_every_file_and_then_every_directory_deepest_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for name in ("a.onnx", "sub/b.json", "sub/deeper/c.txt"):
        (tmp_path / name).write_text(name)
    synced = _record_fsyncs(monkeypatch)
    files.fsync_tree(tmp_path)
    file_paths = {str(tmp_path / n) for n in ("a.onnx", "sub/b.json", "sub/deeper/c.txt")}
    assert set(synced[:3]) == file_paths
    assert synced[3:] == [str(tmp_path / "sub" / "deeper"), str(tmp_path / "sub"),
                          str(tmp_path)]


def test_an_export_is_synced_before_it_is_renamed_into_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / ".export-x"
    work.mkdir()
    (work / "model.onnx").write_bytes(b"graph")
    (work / "manifest.json").write_text("{}")
    target = tmp_path / "onnx-1-abc"
    target.mkdir()   # an incomplete leftover: replaced
    (target / "model.onnx").write_bytes(b"half")
    synced = _record_fsyncs(monkeypatch)
    renamed: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: Path, dst: Path) -> None:
        renamed.append((str(src), str(dst)))
        assert {str(work / "model.onnx"), str(work / "manifest.json"), str(work)} <= set(synced)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    model_cache._install(work, target)
    assert renamed == [(str(work), str(target))]
    assert (target / "model.onnx").read_bytes() == b"graph"
    assert synced[-1] == str(tmp_path)   # the rename itself made durable
