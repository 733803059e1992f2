"""Replication soak: commit -> visible lag with `replicate` and `serve` run side by side.

The documented split deployment: `questlog replicate --replica file://...` and
`questlog serve` as two processes on the same file, plus `questlog read-node`
following the replica. An appender posts one event (2 KB of padding) at a time
at ~5/s to the write node over HTTP, idling 2 s after every 25 appends so that a
commit Litestream misses cannot hide behind the next one; a poller reads the read
node's `/events` and notes when each position becomes visible there. A busy-loop
process per core runs all the while (the CPU hog), so Litestream, the writer and
the follower compete for CPU.

Two configurations are measured in the same run, in alternating segments:
- `documented`: exactly the documented commands, no extra environment;
- `reference`: the same with `QUESTLOG_LITESTREAM_ACTIVE=1` set for `serve` (the
  writer leaves checkpoints to Litestream whether or not it detects it).

An event still invisible when its segment ends (after a drain wait) counts with
the lag it had then and is reported as `unarrived`. Target: max lag <= 2 s in
`documented`.

Usage: python benchmarks/replication_soak.py [--duration 600] [--segment 60] [--rate 5]
The tests (tests/replication/test_replication_soak.py) run the same harness for seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

QUESTLOG = str(Path(sys.executable).parent / "questlog")
TOKEN = "soak-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TARGET_MAX_LAG_S = 2.0
DRAIN_S = 5.0  # how long a segment waits for its last events before counting them unarrived


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _end(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
    """End one process we started, by its PID; SIGKILL if it outstays `wait`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def start_cpu_hog(n: int | None = None) -> list[subprocess.Popen[bytes]]:
    """One busy-loop process per core (or `n`)."""
    count = n if n is not None else (os.cpu_count() or 1)
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Segment:
    """One run of replicate + serve + read node on a fresh store."""

    workdir: Path
    mode: str  # "documented" or "reference"
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    committed: dict[int, float] = field(default_factory=dict)
    visible: dict[int, float] = field(default_factory=dict)
    append_errors: int = 0
    replicate_first: bool = False
    pad: int = 2048
    projector_daemon: bool = False
    pause_every: int = 0  # after this many appends, stay idle for `pause_s` (0: never)
    pause_s: float = 0.0
    replicate_env: dict[str, str] = field(default_factory=dict)
    # Whether the database file (written only by checkpoints in WAL mode) changed between
    # the start of appending and the end of the drain.
    db_file_changed: bool | None = None
    drained_at: float = 0.0

    @property
    def db(self) -> Path:
        return self.workdir / "write.db"

    @property
    def replica(self) -> str:
        return f"file://{self.workdir / 'replica'}"

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
        env["QUESTLOG_API_TOKEN"] = TOKEN
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.processes.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-4000:]

    def _wait_healthy(self, name: str, url: str, timeout: float = 90.0) -> None:
        proc = dict(self.processes)[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} not healthy within {timeout} s:\n{self.log(name)}")

    def start(self) -> tuple[str, str]:
        """init; serve (the writer opens the store first); replicate; read node."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([QUESTLOG, "--db", str(self.db), "init"], check=True,
                       capture_output=True, env=self._env(), timeout=120)
        serve_env = self._env(**({"QUESTLOG_LITESTREAM_ACTIVE": "1"}
                                 if self.mode == "reference" else {}))
        write_port, read_port = _free_port(), _free_port()
        write_url, read_url = f"http://127.0.0.1:{write_port}", f"http://127.0.0.1:{read_port}"

        def serve() -> None:
            daemon = "--projector-daemon" if self.projector_daemon else "--no-projector-daemon"
            self._spawn("serve", [QUESTLOG, "--db", str(self.db), "serve", "--port",
                                  str(write_port), daemon, "--log-level", "warning"], serve_env)
            self._wait_healthy("serve", write_url)

        def replicate() -> None:
            proc = self._spawn("replicate", [QUESTLOG, "--db", str(self.db), "replicate",
                                             "--replica", self.replica],
                               self._env(**self.replicate_env))
            deadline = time.monotonic() + 60
            while "replicating " not in self.log("replicate"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"replicate did not start:\n{self.log('replicate')}")
                time.sleep(0.1)

        for step in ((replicate, serve) if self.replicate_first else (serve, replicate)):
            step()
        self._spawn("read", [QUESTLOG, "read-node", "--replica", self.replica,
                             "--data-dir", str(self.workdir / "read"), "--port", str(read_port),
                             "--log-level", "warning"], self._env())
        self._wait_healthy("read", read_url)
        return write_url, read_url

    def _db_fingerprint(self) -> tuple[int, int]:
        st = self.db.stat()
        return st.st_size, st.st_mtime_ns

    def stop(self) -> None:
        # Read node first (it follows the replica), then replicate, then the writer.
        for _name, proc in sorted(self.processes, key=lambda p: ["read", "replicate",
                                                                "serve"].index(p[0])):
            _end(proc)
        self.processes.clear()

    def run(self, seconds: float, rate: float) -> None:
        write_url, read_url = self.start()
        stop_polling = threading.Event()

        def poll() -> None:
            next_position = 0
            with httpx.Client(timeout=5) as client:
                while not stop_polling.is_set():
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        resp = client.get(f"{read_url}/events",
                                          params={"from_position": next_position, "limit": 1000})
                        if resp.status_code == 200:
                            now = time.monotonic()
                            for event in resp.json()["events"]:
                                pos = int(event["position"])
                                self.visible.setdefault(pos, now)
                                next_position = max(next_position, pos + 1)
                    stop_polling.wait(0.02)

        before = self._db_fingerprint()
        poller = threading.Thread(target=poll, name="soak-poller", daemon=True)
        poller.start()
        try:
            with httpx.Client(timeout=30) as client:
                interval = 1.0 / rate
                next_at = time.monotonic()
                end_at = next_at + seconds
                i = 0
                while time.monotonic() < end_at:
                    body = {"expected_version": "any",
                            "events": [{"type": "SoakTick", "data": {"i": i, "pad": "x" * self.pad}}]}
                    try:
                        resp = client.post(f"{write_url}/v1/streams/soak-{i % 7}/events",
                                           json=body, headers=AUTH)
                        if resp.status_code == 200:
                            acked = time.monotonic()
                            for pos in resp.json()["positions"]:
                                self.committed[int(pos)] = acked
                        else:
                            self.append_errors += 1
                    except httpx.HTTPError:
                        self.append_errors += 1
                    i += 1
                    next_at += interval
                    if self.pause_every and i % self.pause_every == 0:
                        # An idle write node: a commit Litestream missed now waits, as the
                        # field report's last transaction did, instead of riding the next one.
                        next_at += self.pause_s
                    time.sleep(max(0.0, next_at - time.monotonic()))
            drain_until = time.monotonic() + DRAIN_S
            while time.monotonic() < drain_until and not set(self.committed) <= set(self.visible):
                time.sleep(0.05)
            self.drained_at = time.monotonic()
            self.db_file_changed = self._db_fingerprint() != before
        finally:
            stop_polling.set()
            poller.join(10)
            self.stop()

    def lags(self) -> tuple[list[float], int]:
        """Lag per committed position (unarrived ones: time waited so far), and unarrived count."""
        lags: list[float] = []
        unarrived = 0
        for pos, acked in self.committed.items():
            seen = self.visible.get(pos)
            if seen is None:
                unarrived += 1
                seen = self.drained_at
            lags.append(max(0.0, seen - acked))
        return lags, unarrived


def summarize(segments: list[Segment]) -> dict[str, Any]:
    lags: list[float] = []
    unarrived = errors = 0
    worst_segment_max: list[float] = []
    for seg in segments:
        seg_lags, seg_unarrived = seg.lags()
        lags += seg_lags
        unarrived += seg_unarrived
        errors += seg.append_errors
        worst_segment_max.append(round(max(seg_lags), 3) if seg_lags else float("nan"))
    return {
        "segments": len(segments),
        "events": len(lags),
        "append_errors": errors,
        "unarrived": unarrived,
        "lag_p50_s": round(percentile(lags, 50), 3) if lags else None,
        "lag_p95_s": round(percentile(lags, 95), 3) if lags else None,
        "lag_max_s": round(max(lags), 3) if lags else None,
        "segment_max_s": worst_segment_max,
    }


def soak(duration_s: float, segment_s: float, rate: float, *, modes: tuple[str, ...],
         hog: bool, workdir: Path, **segment_options: Any) -> dict[str, Any]:
    """Alternate segments of each mode until `duration_s` of appending per mode is done."""
    hogs = start_cpu_hog() if hog else []
    done: dict[str, list[Segment]] = {m: [] for m in modes}
    try:
        per_mode_left = {m: duration_s for m in modes}
        n = 0
        while any(left > 0 for left in per_mode_left.values()):
            for mode in modes:
                seconds = min(segment_s, per_mode_left[mode])
                if seconds <= 0:
                    continue
                seg = Segment(workdir / f"{n:03d}-{mode}", mode, **segment_options)
                n += 1
                seg.run(seconds, rate)
                done[mode].append(seg)
                per_mode_left[mode] -= seconds
    finally:
        for proc in hogs:
            _end(proc, signal.SIGKILL)
    result: dict[str, Any] = {
        "benchmark": "replication_soak",
        "duration_s_per_mode": duration_s,
        "segment_s": segment_s,
        "rate_per_s": rate,
        "cpu_hog_processes": len(hogs),
        "target_max_lag_s": TARGET_MAX_LAG_S,
        "segment_options": segment_options,
    }
    for mode in modes:
        result[mode] = summarize(done[mode])
    documented = result.get("documented")
    if documented is not None:
        result["ok"] = (documented["unarrived"] == 0 and documented["lag_max_s"] is not None
                        and documented["lag_max_s"] <= TARGET_MAX_LAG_S)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of appending per configuration (default 600)")
    parser.add_argument("--segment", type=float, default=60.0,
                        help="seconds per segment before switching configuration (default 60)")
    parser.add_argument("--rate", type=float, default=5.0, help="appends per second (default 5)")
    parser.add_argument("--no-hog", action="store_true", help="skip the CPU hog")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the QUESTLOG_LITESTREAM_ACTIVE=1 reference")
    parser.add_argument("--pad", type=int, default=2048, help="bytes of padding per event")
    parser.add_argument("--replicate-first", action="store_true",
                        help="start replicate before serve (default: serve first)")
    parser.add_argument("--projector-daemon", action="store_true",
                        help="run serve with its projector daemon")
    parser.add_argument("--pause-every", type=int, default=25,
                        help="idle for --pause seconds after this many appends (0: never)")
    parser.add_argument("--pause", type=float, default=2.0,
                        help="seconds of idle (default 2: a commit that waits for the next "
                        "one to be shipped shows as a lag of at least this)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    modes = ("documented",) if args.no_reference else ("documented", "reference")
    tmp = Path(tempfile.mkdtemp(prefix="questlog-soak-"))
    try:
        result = soak(args.duration, args.segment, args.rate, modes=modes, hog=not args.no_hog,
                      workdir=tmp, pad=args.pad, replicate_first=args.replicate_first,
                      projector_daemon=args.projector_daemon, pause_every=args.pause_every,
                      pause_s=args.pause)
        if args.keep:
            result["workdir"] = str(tmp)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
