"""Logs: one set-up for every entry point; JSON lines with the documented fields, request
and correlation ids, an access log, slow operations, a start-up line, never a token."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from obs_helpers import API_TOKEN, READ_TOKEN

from questlog.observability.logs import correlation_id, request_id, setup_logging

QUESTLOG = str(Path(sys.executable).parent / "questlog")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_log(tmp_path: Path) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    """Run `questlog serve` (JSON logs, access log, every operation slow), send requests,
    stop it; returns its log records, the raw log and the request ids the answers gave."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env.update(QUESTLOG_API_TOKEN=API_TOKEN, QUESTLOG_READ_TOKEN=READ_TOKEN,
               QUESTLOG_SLOW_MS="0")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [QUESTLOG, "--db", str(tmp_path / "logs.db"), "serve", "--port", str(port),
             "--no-projector-daemon", "--log-format", "json", "--access-log"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    ids: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        write = {"Authorization": f"Bearer {API_TOKEN}"}
        read = {"Authorization": f"Bearer {READ_TOKEN}"}
        answer = httpx.post(f"{url}/streams/campaign-9/events", timeout=10,
                            headers={**write, "X-Request-ID": "req-append-1"},
                            json={"expected_version": "any", "events": [{
                                "type": "Noted", "data": {"secret_payload": "do-not-log-me"},
                                "metadata": {"correlation_id": "corr-42"}}]})
        assert answer.status_code == 200, answer.text
        ids["append"] = answer.headers["x-request-id"]
        answer = httpx.get(f"{url}/streams/campaign-9", headers=read, timeout=10)
        assert answer.status_code == 200
        ids["read"] = answer.headers["x-request-id"]
        answer = httpx.get(f"{url}/metrics", timeout=10,
                           headers={"Authorization": "Bearer wrong-token-0000"})
        assert answer.status_code == 401
        ids["refused"] = answer.headers["x-request-id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    text = log_path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return records, text, ids


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    return _serve_and_log(tmp_path_factory.mktemp("serve-logs"))


def test_every_line_is_a_json_record_with_the_documented_fields(served: Any) -> None:
    records, text, _ = served
    assert records, "the server logged nothing"
    for record in records:  # json.loads above already failed on any line that is not JSON
        assert {"ts", "level", "logger", "message"} <= set(record), record
        assert record["ts"].endswith("Z")
    startup = [r for r in records if r["logger"] == "questlog.startup"]
    assert len(startup) == 1
    for field in ("backend", "driver", "sqlite_version", "sqlite_vec", "schema_revision"):
        assert startup[0][field], startup[0]
    assert startup[0]["role"] == "write"


def test_access_log_carries_request_ids_given_or_made(served: Any) -> None:
    records, _, ids = served
    access = {r["request_id"]: r for r in records if r["logger"] == "questlog.access"}
    assert ids["append"] == "req-append-1"  # echoed as given
    assert len(ids["read"]) == 32 and ids["read"] != ids["refused"]  # made when absent
    append = access["req-append-1"]
    assert (append["method"], append["route"], append["status"]) == (
        "POST", "/streams/{stream_id}/events", 200)
    assert append["path"] == "/streams/campaign-9/events" and append["duration_ms"] > 0
    assert access[ids["read"]]["route"] == "/streams/{stream_id}"
    assert access[ids["refused"]]["status"] == 401


def test_slow_operations_name_the_operation_parameters_and_time(served: Any) -> None:
    records, _, _ = served
    slow = [r for r in records if r["logger"] == "questlog.slow"]
    by_operation = {r["operation"] for r in slow}
    assert {"append", "batch_commit", "http_request"} <= by_operation
    (append,) = [r for r in slow if r["operation"] == "append"]
    assert append["params"] == {"stream_id": "campaign-9", "events": 1,
                                "correlation_id": "corr-42"}
    assert append["request_id"] == "req-append-1"  # the request's id reaches the route
    assert append["correlation_id"] == "corr-42"  # and the append's, every record in it
    assert append["duration_ms"] >= 0
    assert all(isinstance(r["duration_ms"], float | int) for r in slow)


def test_logs_never_hold_a_token_or_a_payload(served: Any) -> None:
    _, text, _ = served
    for secret in (API_TOKEN, READ_TOKEN, "wrong-token-0000", "do-not-log-me"):
        assert secret not in text


def test_text_format_is_one_line_with_the_context_ids(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    setup_logging("info", "text")
    rid, cid = request_id.set("req-7"), correlation_id.set("corr-7")
    try:
        logging.getLogger("questlog.test").warning("two\nlines", extra={"operation": "x"})
    finally:
        request_id.reset(rid)
        correlation_id.reset(cid)
        setup_logging("warning", "json")
    err = capsys.readouterr().err.splitlines()
    (line,) = [x for x in err if "questlog.test" in x]
    assert "warning questlog.test: two lines" in line
    assert "request_id=req-7" in line and "correlation_id=corr-7" in line
    assert "operation=x" in line


def test_the_cli_logs_json_lines_when_asked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_SLOW_MS"] = "0"
    db = str(tmp_path / "cli.db")
    subprocess.run([QUESTLOG, "--db", db, "init"], env=env, check=True, capture_output=True)
    # The CLI logs warnings only; a slow operation is one: it reaches stderr as JSON.
    done = subprocess.run(
        [QUESTLOG, "--db", db, "--log-format", "json", "events", "append", "log-1", "Noted",
         "--data", "{}", "--metadata", '{"correlation_id": "cli-corr"}'],
        env=env, capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    slow = [r for r in records if r.get("operation") == "append"]
    assert slow and slow[0]["params"]["correlation_id"] == "cli-corr"


def test_a_program_embedding_a_store_gets_no_log_lines_it_did_not_configure(
        tmp_path: Path) -> None:
    """A slow append is logged as a warning, but a program that configured no logging
    must not find it on its stderr (Python's last-resort handler would print it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_SLOW_MS"] = "0"   # every operation is slow
    program = (
        "import logging, sys\n"
        "from questlog import Store, NewEvent\n"
        "seen = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): seen.append(record.getMessage())\n"
        f"store = Store.open({str(tmp_path / 'lib.db')!r})\n"
        "store.append('telemetry-1', [NewEvent(type='Tick')])\n"
        "logging.getLogger('questlog').addHandler(Keep())\n"
        "store.append('telemetry-1', [NewEvent(type='Tick')])\n"
        "store.close()\n"
        "assert any('slow operation' in m for m in seen), seen\n")
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
