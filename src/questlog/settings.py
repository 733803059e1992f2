"""Settings from the environment (prefix QUESTLOG_), with defaults that are safe.

Kept light: this module is imported on every CLI path, so it must not pull in
anything heavy: the declarations below are read by `envsettings` (standard library
only, pydantic's lax rules for these types), not by pydantic-settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .envsettings import EnvSettings, Field, SecretStr, SettingsError, field_validator
from .jsonlimits import DEFAULT_MAX_JSON_DEPTH

Durability = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
VectorBackendChoice = Literal["auto", "sqlite-vec", "numpy"]
RebuildPolicy = Literal["auto", "manual"]
EmbedderChoice = Literal["onnx", "sentence-transformers"]
PrecisionChoice = Literal["fp32", "int8"]


class Settings(EnvSettings):
    """Every knob of a questlog store; each maps to an environment variable QUESTLOG_<NAME>."""

    env_prefix = "QUESTLOG_"

    db: Path | str = Field(
        default=Path("./questlog.db"),
        description="The store: a SQLite file path, or a URL (sqlite:///PATH; postgresql://… "
                    "is answered with a clear error until that backend is installed).")
    durability: Durability = Field(
        default="FULL", description="PRAGMA synchronous for the writer connection."
    )
    busy_timeout_ms: int = Field(default=5000, ge=5000, description="SQLite busy timeout (>= 5 s).")
    writer_batch_size: int = Field(default=256, ge=1, description="Most calls per group commit.")
    writer_batch_wait_ms: float = Field(
        default=0.0, ge=0, description="How long the writer waits for more calls before committing."
    )
    writer_queue_size: int = Field(default=10_000, ge=1, description="Bound of the writer queue.")
    append_timeout_s: float = Field(
        default=10.0, gt=0, description="How long append waits for queue space (then Backpressure)."
    )
    lock_retry_s: float = Field(
        default=120.0, gt=0, description="How long the writer retries SQLite's write lock."
    )
    allow_unsafe_sqlite: bool = Field(
        default=False,
        description="Open for writing even on a SQLite with the WAL-reset corruption bug.",
    )
    litestream_active: bool = Field(
        default=False,
        description="Always leave checkpoints to Litestream, even with no questlog replicate "
        "lock beside the file (for a Litestream run outside questlog).",
    )
    projections_rebuild: RebuildPolicy = Field(
        default="auto", description="Rebuild projectors whose version changed when the store opens."
    )
    projection_batch_size: int = Field(default=2000, ge=1)
    projection_rebuild_batch_size: int = Field(default=20_000, ge=1)
    projection_poll_s: float = Field(default=0.05, gt=0)
    projection_max_failures: int = Field(default=5, ge=1)
    snapshot_every: int = Field(default=200, ge=1, description="Take a snapshot every N events.")
    vector_backend: VectorBackendChoice = Field(default="auto")
    model_name: str = Field(default="all-MiniLM-L6-v2")
    model_cache: Path | None = Field(
        default=None,
        description="Where the ONNX export of the embedding model is kept (made once, on "
                    "first need; default: $XDG_CACHE_HOME/questlog/models or "
                    "~/.cache/questlog/models).",
    )
    search_build_batch: int = Field(
        default=256, ge=1,
        description="Chunks embedded per committed batch when a search builds the index "
                    "(an interruption keeps every finished batch).",
    )
    embedder: EmbedderChoice = Field(
        default="onnx",
        description="What embeds texts: `onnx` (ONNX Runtime + tokenizers, no torch when "
                    "the export is cached) or `sentence-transformers` (torch).",
    )
    embedder_precision: PrecisionChoice = Field(
        default="fp32",
        description="The ONNX model variant that embeds both the index and the queries: "
                    "`fp32` (sentence-transformers' vectors within 1e-4) or `int8` (smoothed "
                    "dynamic int8, made once from fp32; ~2x the chunks per CPU-second, its own model id, so "
                    "an index is built and queried by one variant only).",
    )
    api_token: str | None = Field(default=None, description="Bearer token for HTTP writes.")
    read_token: str | None = Field(default=None, description="Bearer token for HTTP reads.")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    anchor_key: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs anchors; anchoring is off while it is unset.",
    )
    anchor_path: Path | None = Field(
        default=None,
        description="Append-only JSON-lines file of anchors (default: <db>.anchors.jsonl); "
                    "keep it where whoever can rewrite the store cannot, e.g. beside the replica.",
    )
    anchor_every_events: int = Field(
        default=1000, ge=0, description="The writer anchors after this many events (0: never)."
    )
    anchor_every_s: float = Field(
        default=60.0, ge=0,
        description="The writer anchors new events at least this often, in seconds (0: never).",
    )
    max_json_depth: int = Field(
        default=DEFAULT_MAX_JSON_DEPTH, ge=2, le=200,
        description="Deepest nesting of an event's data or metadata, for every way in "
                    "(le=200: responses must stay serialisable).",
    )
    content_max_file_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024,
        description="Largest content pack file (checked before it is parsed).",
    )
    slow_ms: float = Field(
        default=250.0, ge=0,
        description="Log an operation (append, batch commit, projection batch, search, HTTP "
                    "request) that takes at least this many milliseconds (0: every one).",
    )
    content_max_entry_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="Largest single entry of a content pack file (checked while parsing).",
    )
    read_cache_entries: int = Field(
        default=1024, ge=0,
        description="Entries of each in-process read cache (content entries, search results, "
                    "query embeddings), keyed by checkpoint: never stale. 0 turns them off, "
                    "and a read node's tokens known by stat with them.",
    )

    @field_validator("db", mode="before")
    @classmethod
    def _store_location(cls, value: object) -> object:
        from .storage.select import as_location

        return as_location(value) if isinstance(value, (str, Path)) else value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except SettingsError as exc:
        from .errors import ConfigurationError

        # One line naming every bad variable as the user spelled it, never pydantic's dump.
        bad = "; ".join(
            f"QUESTLOG_{'_'.join(str(p) for p in err['loc']).upper()}={err.get('input')!r}: "
            f"{err['msg']}" for err in exc.errors)
        raise ConfigurationError(f"invalid setting: {bad}") from None
