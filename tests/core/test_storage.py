"""The storage layer: SQLite version gate, pragmas, sqlite-vec, schema, packaging."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from questlog import NewEvent, Store, schema
from questlog.errors import SchemaOutOfDate, StoreNotInitialized, UnsafeSQLiteVersion
from questlog.events import ANY
from questlog.settings import Settings
from questlog.sqlite.connections import Database
from questlog.sqlite.driver import sqlite_version_is_safe, vec_status

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("version", "safe"), [
    ("3.40.1", False), ("3.50.4", False), ("3.51.2", False), ("3.51.3", True),
    ("3.53.4", True), ("3.50.7", True), ("3.44.6", True), ("3.44.5", False), ("3.6.0", True),
])
def test_wal_reset_bug_versions(version: str, safe: bool) -> None:
    assert sqlite_version_is_safe(version) is safe


def test_refuses_an_affected_sqlite_unless_overridden(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import questlog.sqlite.driver as driver_module

    real = driver_module.load_dbapi()

    class Old:
        sqlite_version = "3.50.4"
        __name__ = "sqlean.dbapi2"

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(driver_module, "load_dbapi", lambda: Old())
    with pytest.raises(UnsafeSQLiteVersion, match="3.50.4"):
        Database(tmp_path / "x.db", Settings())
    db = Database(tmp_path / "x.db", Settings(allow_unsafe_sqlite=True))
    db.dispose()
    ro = Database(tmp_path / "x.db", Settings(), read_only=True)  # reading is allowed
    ro.dispose()


def test_connection_pragmas(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "p.db", settings=Settings(durability="NORMAL"), projectors=[])
    try:
        with store.read() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
        sync = store.write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert sync == 1  # NORMAL
        auto = store.write(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        assert auto == 1000
    finally:
        store.close()
    store = Store.open(tmp_path / "p.db", settings=Settings(litestream_active=True), projectors=[])
    try:
        assert store.write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
        assert store.write(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
    finally:
        store.close()


def test_sqlite_vec_loads_on_every_connection(tmp_path: Path) -> None:
    status = vec_status()
    assert status.loaded, status.reason
    store = Store.open(tmp_path / "v.db", projectors=[])
    try:
        with store.read() as conn:
            assert conn.execute("select vec_version()").fetchone()[0] == status.version
        health = store.health()
        assert health.vector_backend == "sqlite-vec"
        assert health.sqlite_safe and health.schema_revision == schema.HEAD_REVISION
    finally:
        store.close()
    numpy_store = Store.open(tmp_path / "v.db", settings=Settings(vector_backend="numpy"),
                             projectors=[])
    try:
        assert numpy_store.health().vector_backend == "numpy"
    finally:
        numpy_store.close()


def test_schema_head_matches_alembic_and_gates_opening(tmp_path: Path) -> None:
    assert schema.alembic_head() == schema.HEAD_REVISION
    with pytest.raises(StoreNotInitialized):
        Store.open(tmp_path / "none.db", create=False)
    store = Store.open(tmp_path / "s.db", projectors=[])
    store.close()
    from questlog.sqlite.driver import load_dbapi

    conn = load_dbapi().connect(str(tmp_path / "s.db"))
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaOutOfDate, match="9999"):
        Store.open(tmp_path / "s.db", projectors=[])


def test_a_sqlite_store_at_a_revision_only_postgresql_changed_is_used_as_it_is(
        tmp_path: Path) -> None:
    """0003 is PostgreSQL's alone: a SQLite store at 0002 (made by the previous questlog)
    is read, by a read-only open as a read node's is, and written without a migration."""
    from questlog.sqlite.driver import load_dbapi

    path = tmp_path / "s.db"
    store = Store.open(path, projectors=[])
    store.append("s-1", [NewEvent(type="Happened")])
    store.close()
    conn = load_dbapi().connect(str(path))
    conn.execute("UPDATE alembic_version SET version_num = '0002'")
    conn.commit()
    conn.close()
    reader = Store.open(path, projectors=[], read_only=True)
    try:
        assert [e.type for e in reader.read_stream("s-1")] == ["Happened"]
    finally:
        reader.close()
    writer = Store.open(path, projectors=[], create=False)
    try:
        writer.append("s-1", [NewEvent(type="Again")])
        assert [e.type for e in writer.read_stream("s-1")] == ["Happened", "Again"]
    finally:
        writer.close()


# Never on a cold read path (issue 13 point 4): each costs a cold command several bare
# interpreter starts. pydantic itself stays off `--help` and `events read`; `content get`
# returns the entry's pydantic model, so it may load pydantic, never pydantic-settings.
# Its point reads are `KeyLookup`s and the content tables' Core declarations are built on
# first use (content/tables.py), so it never loads SQLAlchemy.
HEAVY = ("sqlalchemy", "pydantic_settings", "fastapi", "starlette", "torch", "numpy",
         "alembic", "sentence_transformers", "uvicorn", "httpx")


# Lists the content models whose schema the process built (pydantic builds a model with
# `defer_build` on its first validation): `content get` of one entry must build its type's
# model alone, never all 25 (content/types.py).
_BUILT_MODELS = (
    "def _built():\n"
    "    if 'pydantic' not in sys.modules:\n        return []\n"
    "    from pydantic import BaseModel\n"
    "    seen, todo = set(), [BaseModel]\n"
    "    while todo:\n"
    "        for sub in todo.pop().__subclasses__():\n"
    "            if sub not in seen:\n                seen.add(sub)\n                todo.append(sub)\n"
    "    return sorted(m.__name__ for m in seen if m.__module__.startswith('questlog.content')"
    " and m.__pydantic_complete__)\n"
)


def _cold_cli(args: list[str], report: str) -> tuple[str, Any]:
    """Run the CLI with `args` in a fresh interpreter, then the Python expression `report`
    (its value printed as JSON): (the CLI's output, the report's value)."""
    code = (
        "import dataclasses, json, sys\n"
        f"sys.argv = ['questlog', *{args!r}]\n"
        "from questlog.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"{_BUILT_MODELS}"
        f"print('REPORT', json.dumps({report}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text, _, value = out.stdout.rpartition("REPORT ")
    return text, json.loads(value)


def _cold_run(args: list[str]) -> tuple[str, list[str], list[str]]:
    """(The CLI's output, the heavy modules it imported, the content models it built.)"""
    text, (heavy, built) = _cold_cli(
        args, f"[sorted(m for m in {(*HEAVY, 'pydantic')!r} if m in sys.modules), _built()]")
    return text, heavy, built


def _cold_store(tmp_path: Path) -> tuple[Path, str]:
    """A store with the starter pack and one event on campaign-1: (its path, a spell index)."""
    path = tmp_path / "cold.db"
    store = Store.open(path)
    store.content.import_pack(REPO / "data" / "packs" / "starter")
    store.append("campaign-1", [{"type": "Started", "data": {}}])
    spell: str = store.content.list("spells", limit=1)[0].index  # type: ignore[attr-defined]
    store.close()
    return path, spell


def test_cold_read_paths_import_nothing_heavy(tmp_path: Path) -> None:
    path, spell = _cold_store(tmp_path)

    text, heavy, _ = _cold_run(["--help"])
    assert "Exit codes:" in text and "events" in text and "content" in text
    assert heavy == []
    text, heavy, _ = _cold_run(["--db", str(path), "events", "read", "campaign-1"])
    assert "Started" in text
    assert heavy == []
    text, heavy, built = _cold_run(["--db", str(path), "--json", "content", "get", "spells",
                                    spell])
    assert json.loads(text)["index"] == spell
    assert heavy == ["pydantic"]
    assert built == ["Spell"]  # not the 24 other types' models, nor GenericEntry


# What the cold read paths may still define (issue 13 point 4): a dataclass compiles its
# generated methods when its module is imported (~1 ms of a ~0.2 s command each), so the
# records those paths import are NamedTuples or plain classes; these stay dataclasses
# (public event types, and two records the startup report is built from).
COLD_DATACLASSES = ["AppendResult", "HealthReport", "RecordedEvent", "VecStatus"]


def _cold_definitions(args: list[str]) -> tuple[list[str], list[str]]:
    """(The questlog dataclasses the CLI defined, which of hashlib, the event types, the
    log's SQL and the shared content parts it imported.)"""
    _, (defined, loaded) = _cold_cli(args, (
        "[sorted({value.__name__ for name, module in list(sys.modules.items())"
        " if name.startswith('questlog') for value in vars(module).values()"
        " if isinstance(value, type) and dataclasses.is_dataclass(value)"
        " and value.__module__ == name}),"
        " [m for m in ('hashlib', 'questlog.events', 'questlog.sqlite.log',"
        " 'questlog.content.parts') if m in sys.modules]]"))
    return defined, loaded


def test_cold_read_paths_generate_no_record_code(tmp_path: Path) -> None:
    path, spell = _cold_store(tmp_path)

    for args in (["--help"], ["--db", str(path), "events", "read", "campaign-1"]):
        defined, loaded = _cold_definitions(args)
        assert set(defined) <= set(COLD_DATACLASSES), args
        # No hashing on a read: hashlib (OpenSSL) loads on a write.
        assert "hashlib" not in loaded and "questlog.content.parts" not in loaded, args
    defined, loaded = _cold_definitions(["--db", str(path), "content", "get", "spells", spell])
    assert set(defined) <= set(COLD_DATACLASSES)
    # pydantic's own imports bring hashlib in; an entry is read without the log's SQL or
    # the event types, and a spell needs none of the shared parts.
    assert loaded == ["hashlib"]
    # (`Store.append` spells its default out so that the store module needs no event type.)
    assert inspect.signature(Store.append).parameters["expected_version"].default == ANY


def test_wheel_ships_projections_migrations_and_data(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("questlog-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "questlog/projections/stream_catalog.py" in names
    assert "questlog/migrations/env.py" in names
    assert "questlog/migrations/versions/0001_event_log.py" in names
    assert "questlog/migrations/script.py.mako" in names
    # Every package directory in the tree is listed in pyproject (or it would be left out).
    for init in (REPO / "src" / "questlog").rglob("__init__.py"):
        rel = init.relative_to(REPO / "src").as_posix()
        assert rel in names, f"{rel} missing from the wheel: add its package to pyproject.toml"
    for init in (REPO / "projections").glob("*.py"):
        assert f"questlog/projections/{init.name}" in names
    # The web inspector's templates and static files are package data.
    inspector = REPO / "src" / "questlog" / "http" / "inspector"
    for folder in ("static", "templates"):
        for item in (inspector / folder).iterdir():
            rel = item.relative_to(REPO / "src").as_posix()
            assert rel in names, f"{rel} missing from the wheel: list it in package-data"


def test_a_key_lookup_takes_only_plain_identifiers_and_named_values() -> None:
    from questlog.storage.lookups import KeyLookup

    lookup = KeyLookup("content_entities", ("data",), ("type", "idx"))
    assert lookup.values({"idx": "fireball", "type": "spells"}) == ("spells", "fireball")
    for bad in (("content_entities; DROP TABLE events", ("data",), ("type",)),
                ("content_entities", ("data",), ()),
                ("content_entities", ('"data"',), ("type",))):
        with pytest.raises(ValueError, match="KeyLookup"):
            KeyLookup(*bad)
    with pytest.raises(TypeError, match="by name"):
        lookup.values(("spells", "fireball"))
