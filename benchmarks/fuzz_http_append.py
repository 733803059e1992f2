"""Fuzz `POST /streams/{id}/events` with Hypothesis for a while; count 5xx and crashes.

Prints one JSON line: inputs tried, their status classes, and the failures found —
`server_errors` (any 5xx answer), `crashes` (an exception out of the app),
`partial_writes` (a refused request that moved the log) and `wrong_answers` (a 200
whose positions do not match the events sent); all four should be 0. The app runs in
process (Starlette's TestClient) over a real store in a temporary directory.

Inputs: raw bytes and truncated JSON, arbitrary JSON values, and append bodies whose
every field is drawn loosely — stream ids and types near the allowed patterns (trailing
newline, unicode, over-long), event ids, huge and negative numbers, lone surrogates,
data nested up to 1,200 levels, unknown keys, `wait_replicated` on a node without a
replica. The reference is the number of inputs a plain TestClient POST of a fixed valid
body manages in the same run, to show how much of the time went to generation.

Usage: python benchmarks/fuzz_http_append.py [--seconds 180] [--max-body-bytes 262144]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from _common import emit
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from questlog import Store
from questlog.http import create_app
from questlog.settings import Settings

TOKEN = "fuzz-write-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
BATCH_EXAMPLES = 200

json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                           max_leaves=30)


@st.composite
def deep_values(draw: Any) -> Any:
    value: Any = draw(json_scalars)
    as_object = draw(st.booleans())  # one draw, not one per level: generation stays cheap
    for _ in range(draw(st.integers(1, 1200))):
        value = {"a": value} if as_object else [value]
    return value


names = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.]{0,40}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.]{0,10}\n", fullmatch=True),
    st.text(max_size=300),
)
event_ids = st.one_of(st.uuids().map(str), st.text(max_size=40), st.integers())
events = st.fixed_dictionaries(
    {"type": names},
    optional={"data": st.one_of(json_values, deep_values(), st.dictionaries(
                  st.text(max_size=8), json_values, max_size=4)),
              "metadata": st.one_of(json_values, st.dictionaries(st.text(max_size=8),
                                                                 json_values, max_size=3)),
              "event_id": event_ids,
              "schema_version": st.one_of(st.integers(), st.integers(-2**70, 2**70),
                                          json_scalars),
              "unexpected": json_values})
bodies = st.fixed_dictionaries(
    {"events": st.one_of(st.lists(events, max_size=20), json_values)},
    optional={"expected_version": st.one_of(st.integers(-5, 50), st.integers(-2**70, 2**70),
                                            st.sampled_from(["any", "no_stream",
                                                             "stream_exists", "some"]),
                                            json_values),
              "wait_replicated": st.one_of(st.booleans(), json_values),
              "other": json_values})
# Bodies the model accepts, so the writer, the planner and the store see odd data too.
plausible_events = st.fixed_dictionaries(
    {"type": st.from_regex(r"[A-Z][A-Za-z0-9_.]{0,20}", fullmatch=True),
     "data": st.dictionaries(st.text(max_size=8), st.one_of(json_values, deep_values()),
                             max_size=4)},
    optional={"metadata": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
              "event_id": st.uuids().map(str),
              "schema_version": st.integers(1, 2**40)})
plausible_bodies = st.fixed_dictionaries(
    {"events": st.lists(plausible_events, min_size=1, max_size=20)},
    optional={"expected_version": st.one_of(st.integers(0, 30), st.sampled_from(
        ["any", "no_stream", "stream_exists"]))})
valid_stream_ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}-[0-9]{1,4}", fullmatch=True)
stream_ids = st.one_of(valid_stream_ids, valid_stream_ids, st.text(min_size=1, max_size=300))


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates become \ud800 escapes: still sent


payloads = st.one_of(
    plausible_bodies.map(_encode),
    plausible_bodies.map(_encode),
    bodies.map(_encode),
    json_values.map(_encode),
    st.binary(max_size=300),
    bodies.map(_encode).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--max-body-bytes", type=int, default=256 * 1024)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="questlog-fuzz-") as tmp:
        path = Path(tmp) / "fuzz.db"
        store = Store.open(path, settings=Settings(db=path, api_token=TOKEN,
                                                   max_body_bytes=args.max_body_bytes))
        try:
            result = _fuzz(store, args.seconds)
        finally:
            store.close()
    emit(result)


def _fuzz(store: Store, seconds: float) -> dict[str, Any]:
    client = TestClient(create_app(store), raise_server_exceptions=True)
    statuses: Counter[int] = Counter()
    failures: dict[str, int] = Counter()
    examples: list[dict[str, Any]] = []

    def note(kind: str, stream_id: str, raw: bytes, detail: str) -> None:
        failures[kind] += 1
        if len(examples) < 5:
            examples.append({"kind": kind, "stream_id": stream_id[:80],
                             "body": raw[:200].decode("utf-8", "replace"),
                             "detail": detail[:300]})

    @given(stream_id=stream_ids, raw=payloads)
    @settings(max_examples=BATCH_EXAMPLES, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def one(stream_id: str, raw: bytes) -> None:
        url = f"/v1/streams/{urllib.parse.quote(stream_id, safe='')}/events"
        before = store.head_position()
        try:
            resp = client.post(url, content=raw, headers=HEADERS)
        except Exception as exc:  # anything out of the app is a crash
            note("crashes", stream_id, raw, f"{type(exc).__name__}: {exc}")
            return
        statuses[resp.status_code] += 1
        if resp.status_code >= 500:
            note("server_errors", stream_id, raw, f"{resp.status_code} {resp.text}")
        elif resp.status_code == 200:
            sent = json.loads(raw)["events"]
            if len(resp.json()["positions"]) != len(sent):
                note("wrong_answers", stream_id, raw, resp.text)
        elif store.head_position() != before:
            note("partial_writes", stream_id, raw, f"{resp.status_code} {resp.text}")

    started = time.monotonic()
    batches = 0
    while time.monotonic() - started < seconds:
        one()
        batches += 1
    fuzz_s = time.monotonic() - started
    tried = sum(statuses.values()) + failures["crashes"]

    # Reference: the same client posting one fixed valid body, for a tenth of the time.
    valid = _encode({"events": [{"type": "Ref", "data": {"n": 1}}]})
    ref_started = time.monotonic()
    ref_count = 0
    while time.monotonic() - ref_started < max(1.0, seconds / 10):
        assert client.post("/v1/streams/ref-1/events", content=valid,
                           headers=HEADERS).status_code == 200
        ref_count += 1
    ref_rate = ref_count / (time.monotonic() - ref_started)

    return {
        "benchmark": "fuzz_http_append",
        "seconds": round(fuzz_s, 1),
        "inputs_tried": tried,
        "inputs_per_s": round(tried / fuzz_s, 1),
        "reference_valid_posts_per_s": round(ref_rate, 1),
        "batches": batches,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": failures["server_errors"],
        "crashes": failures["crashes"],
        "partial_writes": failures["partial_writes"],
        "wrong_answers": failures["wrong_answers"],
        "events_stored": store.head_position(),
        "examples": examples,
    }


if __name__ == "__main__":
    main()
