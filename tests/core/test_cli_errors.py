"""Issue 17 points 9, 9b, 10: no traceback ever, one line and a documented exit code.

Every command of the click tree is run against each hostile input: in-process through
`run_cli` (the real entry point's error handling; an exception escaping it fails the
test) for speed, and as real subprocesses where the process matters (a read-only
directory, the long-running server commands).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from questlog import NewEvent, Store
from questlog.cli import cli, main
from questlog.sqlite.driver import load_dbapi

QUESTLOG = [sys.executable, "-m", "questlog.cli"]
SERVERS = {"serve", "read-node", "replicate", "restore"}  # they would run until stopped
DEEP = "[" * 50_000 + "]" * 50_000
HUGE = "9" * 5_000


def leaf_commands() -> Iterator[tuple[list[str], click.Command]]:
    """Every runnable command of the tree, as (path of names, command)."""
    ctx = click.Context(cli)

    def walk(group: click.Group, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                yield from walk(command, [*path, name])
            else:
                yield [*path, name], command

    yield from walk(cli, [])


def required_args(command: click.Command, files: dict[str, Path]) -> list[str]:
    """Placeholder values for the required parameters, hostile files where a file goes."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param.type, click.Path):
            name = (param.name or "").lower()
            value = str(files.get(name, files["file"]))
        elif isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        elif isinstance(param.type, click.types.IntParamType):
            value = "1"
        else:
            value = "file:///nonexistent-replica" if param.name == "replica" else "x"
        if isinstance(param, click.Option):
            args.append(param.opts[0])
        args.append(value)
    return args


def run_in_process(args: list[str], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["questlog", *args])
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return int(code or 0), captured.out, captured.err


def assert_one_line_error(code: int, err: str, args: list[str]) -> None:
    assert "Traceback" not in err, (args, err)
    assert code != 0, (args, err)
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1, (args, err)
    from questlog.cli.common import EXIT_CODES

    assert code in {c for c, _ in EXIT_CODES}, (args, code, err)


def corrupt_store(path: Path) -> Path:
    """A real store whose first events leaf page is overwritten with garbage."""
    with Store.open(path, projectors=[]) as store:
        for i in range(40):
            store.append(f"s-{i % 5}", [{"type": "T", "data": {"x": "y" * 400, "i": i}}] * 5)
    conn = load_dbapi().connect(str(path))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()
    conn.close()
    data = path.read_bytes()
    page = data[(root - 1) * page_size:root * page_size]
    assert page[0] == 5, "the events table should span several pages"
    (first_cell,) = struct.unpack(">H", page[12:14])
    (child,) = struct.unpack(">I", page[first_cell:first_cell + 4])
    with path.open("r+b") as fh:
        fh.seek((child - 1) * page_size)
        fh.write(bytes(range(256)) * (page_size // 256))
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    not_sqlite = root / "passwd"
    not_sqlite.write_text("root:x:0:0:root:/root:/bin/bash\n" * 40)
    directory = root / "a-directory"
    directory.mkdir()
    return {"not_sqlite": not_sqlite, "directory": directory,
            "missing_dir": root / "no" / "such" / "dir" / "q.db",
            "corrupt": corrupt_store(root / "corrupt.db")}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    log = root / "log.jsonl"
    log.write_text(json.dumps({"event_id": str(uuid.uuid4()), "stream_id": "s-1",
                               "type": "T", "data": {}}) + "\n")
    commands = root / "commands.json"
    commands.write_text("[]")
    pack = root / "pack"
    pack.mkdir()
    return {"file": log, "log_file": log, "commands_file": commands, "directory": pack,
            "data_dir": root / "data", "output": root / "restored.db"}


@pytest.mark.parametrize("case", ["not_sqlite", "directory", "missing_dir", "corrupt",
                                  "bogus_setting"])
def test_every_command_against_hostile_stores(case: str, hostile: dict[str, Path],
                                              files: dict[str, Path],
                                              tmp_path_factory: pytest.TempPathFactory,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = hostile.get(case, files["file"].parent / "fresh.db")
    if case == "bogus_setting":
        monkeypatch.setenv("QUESTLOG_DURABILITY", "bogus")
    ran = 0
    for path, command in leaf_commands():
        if path[0] in SERVERS:
            continue  # run as subprocesses below
        if path == ["copy"]:
            ran += _copy_against(db, case, tmp_path_factory, monkeypatch, capsys)
            continue
        args = ["--db", str(db), *path, *required_args(command, files)]
        code, out, err = run_in_process(args, monkeypatch, capsys)
        ran += 1
        assert "Traceback" not in out + err, (args, err)
        if not any(param.name == "db" for param in command.params):
            assert code == 0 and out, (args, err)   # opens no store (game commands, schema)
            continue
        if case == "corrupt" and path == ["verify"]:
            assert code == 2 and "corrupt page" in err, err  # verify's report, not an error
            continue
        must_fail = case != "corrupt" or path == ["events", "export"]
        if path in (["doctor"],) and case == "missing_dir":
            must_fail = False  # doctor reports that the store does not exist yet
        if must_fail:
            assert_one_line_error(code, err, args)
        if case == "bogus_setting":
            assert "QUESTLOG_DURABILITY='bogus'" in err, (args, err)
        if case == "not_sqlite":
            assert "not a questlog store" in err, (args, err)
    assert ran > 30


def _copy_against(db: Path, case: str, tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> int:
    """`copy SOURCE TARGET` names its stores as arguments (no --db): the hostile store is
    the SOURCE, then the TARGET of a good source. Both fail in one line."""
    root = tmp_path_factory.mktemp("copy")
    good = root / "good.db"
    if case != "bogus_setting":
        with Store.open(good, projectors=[]) as store:
            store.append("s-1", [NewEvent(type="T", data={})])
    for args in (["copy", str(db), str(root / "target.db")], ["copy", str(good), str(db)]):
        code, _out, err = run_in_process(args, monkeypatch, capsys)
        assert_one_line_error(code, err, args)
        if case == "bogus_setting":
            assert "QUESTLOG_DURABILITY='bogus'" in err, (args, err)
        if case == "not_sqlite":
            assert "not a questlog store" in err, (args, err)
    return 2


@pytest.mark.parametrize("case", ["not_sqlite", "directory", "missing_dir", "bogus_setting"])
def test_server_commands_against_hostile_stores(case: str, hostile: dict[str, Path],
                                                files: dict[str, Path]) -> None:
    env = dict(os.environ)
    if case == "bogus_setting":
        env["QUESTLOG_DURABILITY"] = "bogus"
    db = hostile.get(case, files["file"].parent / "fresh.db")
    for path, command in leaf_commands():
        if path[0] not in SERVERS or path[0] == "restore":
            continue  # restore does not open --db (its own test suite covers it)
        args = [*QUESTLOG, "--db", str(db), *path, *required_args(command, files),
                *(["--port", "0"] if path[0] == "serve" else [])]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
        assert "Traceback" not in done.stderr + done.stdout, (args, done.stderr)
        assert done.returncode != 0, (args, done.stdout, done.stderr)


def test_write_to_a_corrupt_store_logs_no_traceback(hostile: dict[str, Path],
                                                    tmp_path: Path) -> None:
    """A subprocess: the writer logs its failure, and logging must not print a traceback."""
    db = tmp_path / "corrupt.db"
    shutil.copy(hostile["corrupt"], db)
    done = subprocess.run([*QUESTLOG, "--db", str(db), "events", "append", "s-1", "T"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error")], done.stderr


def test_corrupt_page_is_named_by_verify(hostile: dict[str, Path]) -> None:
    done = subprocess.run([*QUESTLOG, "--db", str(hostile["corrupt"]), "verify"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "corrupt page" in done.stderr
    assert "cannot be read after position" in done.stderr


def test_not_sqlite_verify_exits_2_in_one_line(hostile: dict[str, Path]) -> None:
    done = subprocess.run([*QUESTLOG, "--db", str(hostile["not_sqlite"]), "verify"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "not a questlog store" in done.stderr


@pytest.mark.parametrize("value", [DEEP, HUGE])
def test_hostile_json_in_every_input(value: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "q.db"
    line = json.dumps({"event_id": str(uuid.uuid4()), "stream_id": "s-1", "type": "T",
                       "data": {}})[:-1] + f', "x": {value}}}'
    log = tmp_path / "hostile.jsonl"
    log.write_text(line + "\n")
    commands = tmp_path / "commands.json"
    commands.write_text(f'[{{"type": "x", "n": {value}}}]')
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "5e-SRD-Conditions.json").write_text(
        f'[{{"index": "x", "name": "X", "url": "/api/conditions/x", "desc": {value}}}]')
    for args in (["events", "append", "s-1", "T", "--data", f'{{"a": {value}}}'],
                 ["events", "append", "s-1", "T", "--metadata", f'{{"a": {value}}}'],
                 ["replay", str(log)], ["game", "apply", str(commands)],
                 ["content", "import", str(pack), "--pack", "p"]):
        code, out, err = run_in_process(["--db", str(db), *args], monkeypatch, capsys)
        assert_one_line_error(code, err, args)
        assert "unexpected" not in err, err  # a specific message, not the catch-all
    with Store.open(db, read_only=True) as store:
        assert store.head_position() == 0  # nothing partial written


def test_missing_game_commands_file_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*QUESTLOG, "--db", str(tmp_path / "q.db"), "game", "apply",
                           str(tmp_path / "nofile.json")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr


def test_unexpected_error_is_one_line_with_a_debug_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The last line of defence: a bug prints one line, QUESTLOG_DEBUG=1 the traceback."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(Store, "read_stream", broken)
    db = tmp_path / "q.db"
    Store.open(db, projectors=[]).close()
    code, _, err = run_in_process(["--db", str(db), "events", "read", "s-1"], monkeypatch,
                                  capsys)
    assert code == 70
    assert "QUESTLOG_DEBUG=1" in err and err.count("\n") == 1
    monkeypatch.setenv("QUESTLOG_DEBUG", "1")
    with pytest.raises(KeyError):
        run_in_process(["--db", str(db), "events", "read", "s-1"], monkeypatch, capsys)


def test_init_refuses_a_foreign_sqlite_file(tmp_path: Path) -> None:
    foreign = tmp_path / "theirs.db"
    conn = load_dbapi().connect(str(foreign))
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
    conn.execute("INSERT INTO accounts (owner) VALUES ('someone')")
    conn.commit()
    conn.close()
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    for args in (["init"], ["events", "append", "s-1", "T"], ["verify"]):
        done = subprocess.run([*QUESTLOG, "--db", str(foreign), *args], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "not a questlog store" in done.stderr, done.stderr
        assert "--force" in done.stderr or args == ["verify"], done.stderr
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before  # untouched
    empty = tmp_path / "empty.db"
    load_dbapi().connect(str(empty)).close()
    assert subprocess.run([*QUESTLOG, "--db", str(empty), "init"], capture_output=True,
                          timeout=120).returncode == 0
    forced = subprocess.run([*QUESTLOG, "--db", str(foreign), "init", "--force"],
                            capture_output=True, text=True, timeout=120)
    assert forced.returncode == 0, forced.stderr
    with Store.open(foreign, read_only=True) as store:
        assert store.head_position() == 0


def _without_dac_override() -> list[str] | None:
    """A prefix that runs a command without root's power to write anywhere, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def test_reading_commands_work_in_a_read_only_directory(tmp_path: Path,
                                                       files: dict[str, Path]) -> None:
    prefix = _without_dac_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "q.db"
    with Store.open(db, projectors=[]) as store:
        store.append("campaign-1", [NewEvent(type="Said", data={"text": "hello"})])
    folder.chmod(0o555)
    try:
        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*prefix, *QUESTLOG, "--db", str(db), *args],
                                  capture_output=True, text=True, timeout=120)

        probe = subprocess.run([*prefix, "touch", str(folder / "x")], capture_output=True)
        assert probe.returncode != 0, "the directory should not be writable"
        read = run("events", "read", "campaign-1")
        assert read.returncode == 0 and "hello" in read.stdout, read.stderr
        assert run("verify").returncode == 0
        doctor = run("doctor")
        assert doctor.returncode == 0 and "Traceback" not in doctor.stderr, doctor.stderr
        missing = run("content", "get", "spells", "fireball")
        assert missing.returncode == 1 and "ContentNotFound" in missing.stderr, missing.stderr
        assert run("projections", "hash").returncode == 0
        write = run("events", "append", "campaign-1", "Said")
        assert write.returncode == 1 and "read-only" in write.stderr
        assert write.stderr.count("\n") == 1, write.stderr
        for path, command in leaf_commands():  # every other command: works, or says why not
            if path[0] in SERVERS:
                continue
            done = run(*path, *required_args(command, files))
            assert "Traceback" not in done.stdout + done.stderr, (path, done.stderr)
            if done.returncode != 0:
                assert [line for line in done.stderr.splitlines()
                        if line.startswith("error")], (path, done.stderr)
    finally:
        folder.chmod(0o755)


def test_projections_hash_does_not_catch_up(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with Store.open(db) as store:
        store.append("campaign-1", [NewEvent(type="Said", data={"text": "hello"})])
        lagging = {r["name"] for r in store.projections.status() if r["lag"]}
    assert lagging, "an async projector should lag right after the append"

    def positions() -> dict[str, int]:
        with Store.open(db, read_only=True) as store:
            return {r["name"]: r["position"] for r in store.projections.status()}

    before = positions()
    done = subprocess.run([*QUESTLOG, "--db", str(db), "projections", "hash", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) >= lagging
    assert positions() == before  # nothing ran
    for name in lagging:
        assert f"note: {name} is at position" in done.stderr
    caught = subprocess.run([*QUESTLOG, "--db", str(db), "projections", "hash", "--catch-up"],
                            capture_output=True, text=True, timeout=600)
    assert caught.returncode == 0, caught.stderr
    assert "note:" not in caught.stderr
    assert all(positions()[name] > before[name] for name in lagging)
