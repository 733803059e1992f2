"""Content pack input rules (issue 17, point 8): size limits checked before parsing, a
streaming parse that reads what json.loads reads, links out of the pack refused, large
imports in bounded calls."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from content_packtools import open_store, spell, write_pack

from questlog.content import importer
from questlog.content.source import ContentLimits, PackFileError, stream_array
from questlog.content.validation import validate_pack
from questlog.errors import ContentValidationError, UnsafeContentPack
from questlog.settings import Settings

LIMITS = ContentLimits.from_settings(Settings())


def parse(text: str, chunk: int = 64 * 1024, max_entry: int = 1 << 20) -> list[Any]:
    return list(stream_array(io.BytesIO(text.encode("utf-8")), max_entry, chunk))


def test_defaults_fit_the_whole_srd(srd_dir: Path) -> None:
    sizes = [p.stat().st_size for p in srd_dir.glob("*.json")]
    assert max(sizes) * 10 < LIMITS.max_file_bytes
    for path in srd_dir.glob("*.json"):
        for entry in json.loads(path.read_text("utf-8")):
            assert len(json.dumps(entry, ensure_ascii=False).encode()) * 10 < LIMITS.max_entry_bytes


def test_streaming_parse_reads_what_json_reads(srd_dir: Path) -> None:
    # Every SRD file, and one read in 7-byte chunks (cuts inside strings, numbers, escapes
    # and multi-byte characters).
    for path in sorted(srd_dir.glob("*.json")):
        with path.open("rb") as fh:
            assert list(stream_array(fh, 1 << 20)) == json.loads(path.read_bytes()), path.name
    spells = srd_dir / "5e-SRD-Spells.json"
    with spells.open("rb") as fh:
        assert list(stream_array(fh, 1 << 20, chunk_bytes=7)) == json.loads(spells.read_bytes())
    tricky = '[1, 12345678901234567890, -0.5e-3, "é\\u00e9\\n", true, null, [], {}, [[{"a": [1]}]]]'
    for chunk in (1, 2, 3, 5, 64):
        assert parse(tricky, chunk) == json.loads(tricky)
    assert parse(" [ ] ") == [] and parse("\ufeff[1]") == [1]


@pytest.mark.parametrize(("text", "message"), [
    ('[{"a": 1},, 2]', "line 1 column 11"),
    ('[1,\n2\n3]', "line 3 column 1: Expecting ',' delimiter"),
    ('[1, 2', "unexpected end of file"),
    ('[1] [2]', "Extra data"),
    ('{"a": 1}', "expected a JSON array of entries, found dict"),
    ('{oops', "malformed JSON"),
    ('', "malformed JSON"),
    ('[1e400]', "out of range"),
    ('[NaN]', "not a JSON number"),
    ('[%s]' % ("7" * 5000), "digits"),
    ('[%s]' % ("[" * 5000 + "]" * 5000), "nested too deeply"),
    ('["%s"]' % ("x" * 9000), "entry #0 is larger than 8192 bytes"),
])
def test_streaming_parse_errors_are_one_clear_line(text: str, message: str) -> None:
    for chunk in (3, 1 << 16):
        with pytest.raises(PackFileError, match=message):
            parse(text, chunk, max_entry=8192)


def test_file_and_entry_limits_are_settings_checked_before_parsing(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "p", {
        "spells.json": [spell("a", "A"), spell("b", "B", desc=["x" * 5000])],
        "monsters.json": "[" + " " * 20_000 + "not even JSON",
    }, manifest={"name": "p"})
    limits = ContentLimits(max_file_bytes=10_000, max_entry_bytes=4096, max_depth=64)
    pack = validate_pack(root, limits=limits)
    problems = {p.file: p.message for p in pack.problems}
    assert "QUESTLOG_CONTENT_MAX_FILE_BYTES" in problems["monsters.json"]
    assert "larger than 4096 bytes" in problems["spells.json"]
    assert pack.entries == []  # a file that fails half-way contributes nothing
    assert pack.unreadable_types == {"monsters", "spells"}


def test_limits_come_from_the_store_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_pack(tmp_path / "p", {"spells.json": [spell("a", "A", desc=["x" * 5000])]},
                      manifest={"name": "p"})
    monkeypatch.setenv("QUESTLOG_CONTENT_MAX_ENTRY_BYTES", "2048")
    store = open_store(tmp_path / "s.db")
    try:
        with pytest.raises(ContentValidationError) as info:
            store.content.import_pack(root)
        assert "QUESTLOG_CONTENT_MAX_ENTRY_BYTES" in info.value.problems[0].message
    finally:
        store.close()


def test_links_out_of_the_pack_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([spell("s", "Secret")]))
    root = write_pack(tmp_path / "p", {"spells.json": [spell("a", "A")]}, manifest={"name": "p"})
    (root / "monsters.json").symlink_to(secret)
    with pytest.raises(UnsafeContentPack, match="monsters.json is a link to .*outside"):
        validate_pack(root)
    (root / "monsters.json").unlink()
    (root / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(UnsafeContentPack, match="elsewhere"):
        validate_pack(root)
    (root / "elsewhere").unlink()
    # A link that stays inside the pack is an ordinary file.
    os.rename(root / "spells.json", root / "real-spells.txt")
    (root / "spells.json").symlink_to("real-spells.txt")
    assert [e.index for e in validate_pack(root).entries] == ["a"]


def test_a_large_import_goes_in_bounded_calls_and_reimports_to_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "APPEND_CHUNK", 5)
    entries = [spell(f"s{i}", f"S{i}") for i in range(12)]
    root = write_pack(tmp_path / "p", {"spells.json": entries}, manifest={"name": "p"})
    store = open_store(tmp_path / "s.db")
    try:
        report = store.content.import_pack(root)
        assert report.added == 12 and report.events_appended == 14  # registered + 12 + imported
        events = store.read_stream("contentpack-p")
        assert [e.type for e in events][::13] == ["ContentPackRegistered", "ContentPackImported"]
        assert report.positions == [events[0].position, events[-1].position]
        assert report.stream_version == 14
        assert store.content.get("spells", "s11").name == "S11"
        again = store.content.import_pack(root)
        assert again.events_appended == 0 and again.unchanged == 12
    finally:
        store.close()
