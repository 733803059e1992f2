"""The command's exit skips the collector's last pass over every object (issue 13 point 4,
`questlog.cli.no_collection_at_exit`), once however often `main` runs in one process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from questlog import Store

REPO = Path(__file__).resolve().parents[2]


def test_the_objects_of_a_command_are_frozen_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "exit.db"
    store = Store.open(path)
    store.content.import_pack(REPO / "data" / "packs" / "starter")
    store.close()
    # The probe's hook is registered before main() and so runs after the command's own.
    code = textwrap.dedent(f"""
        import atexit, gc, os, sys
        from questlog.cli import main

        def report():
            os.write(2, f"FROZEN {{gc.get_freeze_count()}} {{gc.isenabled()}}".encode())

        atexit.register(report)
        sys.argv = ["questlog", "--db", {str(path)!r}, "--json", "content", "get",
                    "spells", "ember-choir"]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert gc.get_freeze_count() == 0  # nothing is frozen while the command runs
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"index": "ember-choir"' in done.stdout
    frozen, enabled = done.stderr.rsplit("FROZEN ", 1)[1].split()
    assert int(frozen) > 10_000 and enabled == "True"  # pydantic's objects; gc still on


def test_the_exit_hook_runs_once_however_often_main_ran() -> None:
    code = textwrap.dedent("""
        import atexit, gc, os, sys
        from questlog.cli import main

        calls = []
        freeze = gc.freeze
        gc.freeze = lambda: calls.append(1) or freeze()
        atexit.register(lambda: os.write(2, f"FREEZES {len(calls)}".encode()))
        for _ in range(3):
            sys.argv = ["questlog", "--help"]
            try:
                main()
            except SystemExit:
                pass
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rsplit("FREEZES ", 1)[1] == "1"
