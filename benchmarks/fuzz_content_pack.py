"""Fuzz the content-pack parser with Hypothesis: prints ONE JSON line.

For a fixed time (default 180 s), Hypothesis generates pack files: valid entry
arrays, arbitrary JSON values, those cut, spliced and mutated, hostile numbers
and deep nesting, and raw bytes. Each one is
  * parsed by `stream_array` (a random read-chunk size) and compared with
    `json.loads`: where json.loads reads an array (and questlog's number rules
    allow it), both must give the same entries;
  * written into a pack directory (with a fuzzed manifest now and then) and run
    through `validate_pack`, which may report problems but never raise.
A crash is an exception that is not a ContentError/QuestlogError (or, for the
parser, PackFileError); a mismatch is a parse that differs from json.loads. Both
must be 0. The reference figure is the number of inputs json.loads alone rejected.

    .venv/bin/python benchmarks/fuzz_content_pack.py [--seconds 180]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit

from questlog.content.source import ContentLimits, PackFileError, stream_array
from questlog.content.validation import validate_pack
from questlog.errors import QuestlogError

LIMITS = ContentLimits(max_file_bytes=256 * 1024, max_entry_bytes=16 * 1024, max_depth=64)
TYPES = ("spells", "monsters", "conditions", "widgets")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["index", "name", "url", "desc", "level"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=30)
entries = st.fixed_dictionaries(
    {"index": st.text(min_size=1, max_size=12), "name": st.text(max_size=12),
     "url": st.text(max_size=12)},
    optional={"desc": st.lists(st.text(max_size=30), max_size=3), "level": st.integers(-2, 12),
              "extra": values})
hostile = st.sampled_from([
    "1e400", "-1e400", "NaN", "Infinity", "9" * 4301, "[" * 3000 + "]" * 3000,
    '{"a":' * 100 + "1" + "}" * 100, '"\\ud800"', '"\\u12"', "\ufeff", "\x00", "tru", "-",
    "0.", "01", '"\n"', "[1,]", "{,}", '"' + "x" * 20_000 + '"'])


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(values)).encode()
    text = json.dumps(draw(st.lists(st.one_of(entries, values), max_size=8)),
                      ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1])))
    if kind >= 3:  # splice hostile tokens in, or cut
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(text)))
            if draw(st.booleans()):
                text = text[:at] + draw(hostile) + text[at:]
            else:
                text = text[:at]
    if kind == 5:
        raw = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 4))):
            if raw:
                raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return bytes(raw)
    return text.encode()


def reference(data: bytes) -> list[Any] | None:
    """What json.loads reads, when questlog's number rules accept it (else None)."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(value)):
        return None
    return value


def _leaves(value: Any) -> list[Any]:
    out: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            out.append(item)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args()
    sys.setrecursionlimit(1000)
    counts = {"inputs": 0, "crashes": 0, "mismatches": 0, "json_rejected": 0,
              "problems_reported": 0}
    examples: list[str] = []
    deadline = time.monotonic() + args.seconds
    workdir = Path(tempfile.mkdtemp(prefix="questlog-fuzz-"))

    def record(what: str, data: bytes, detail: str) -> None:
        counts[what] += 1
        if sum(e.startswith(what) for e in examples) < 3:
            examples.append(f"{what}: {data[:200]!r}: {detail[-400:]}")

    @settings(max_examples=500, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=documents(), chunk=st.sampled_from([1, 3, 7, 64, 65536]),
           type_name=st.sampled_from(TYPES), manifest=st.one_of(st.none(), documents()))
    def one(doc: bytes, chunk: int, type_name: str, manifest: bytes | None) -> None:
        if time.monotonic() > deadline:
            return
        counts["inputs"] += 1
        expected = reference(doc)
        if expected is None:
            counts["json_rejected"] += 1
        try:
            got = list(stream_array(io.BytesIO(doc), 1 << 20, chunk))
            if expected is None:
                record("mismatches", doc, f"read what json.loads (or the rules) refuse: "
                                          f"{got!r:.200}")
            elif got != expected:
                record("mismatches", doc, f"stream_array gave {got!r:.200}")
        except (PackFileError, UnicodeDecodeError) as exc:
            if expected is not None and _within_rules(expected):
                record("mismatches", doc, f"refused a valid array: {exc}")
        except Exception:
            record("crashes", doc, traceback.format_exc())
        pack = workdir / f"p{counts['inputs']}"
        pack.mkdir()
        (pack / f"{type_name}.json").write_bytes(doc)
        if manifest is not None:
            (pack / "questlog-pack.json").write_bytes(manifest)
        try:
            result = validate_pack(pack, pack="fuzz", limits=LIMITS)
            counts["problems_reported"] += bool(result.problems)
        except QuestlogError:
            pass
        except Exception:
            record("crashes", doc, traceback.format_exc())
        finally:
            for child in pack.iterdir():
                child.unlink()
            pack.rmdir()

    started = time.monotonic()
    while time.monotonic() < deadline:
        one()
    emit({"benchmark": "fuzz_content_pack", "seconds": round(time.monotonic() - started, 1),
          **counts, "examples": examples})


def _within_rules(value: list[Any]) -> bool:
    """An array stream_array must accept: entries no larger than its limit."""
    return all(len(json.dumps(v)) <= (1 << 20) // 4 for v in value)


if __name__ == "__main__":
    main()
