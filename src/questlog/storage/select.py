"""Which backend a store location names: `QUESTLOG_DB` / `--db` to a `Backend`.

A location is a file path (`campaign.db`), a SQLAlchemy-style SQLite URL
(`sqlite:///relative.db`, `sqlite:////absolute/path.db`), or a PostgreSQL URL
(`postgresql://…`, `postgresql+psycopg://…`), which answers one clear error when
psycopg is not installed (`questlog[postgres]`). The engine package is imported
only once chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..settings import Settings
    from .backend import Backend

SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgresql", "postgres")


class BackendUnavailable(ConfigurationError):
    """The location names a backend this installation does not have."""


class Location(NamedTuple):
    """A parsed store location: the backend's name and, for SQLite, the file."""

    backend: str
    path: Path | None
    url: str


def as_location(value: str | Path) -> Path | str:
    """A location as given on the command line or in QUESTLOG_DB: a URL stays text (a
    Path would fold its `//`), anything else is a file path."""
    if isinstance(value, Path) or "://" not in value:
        return Path(value)
    return value


def parse_location(value: str | Path) -> Location:
    """Parse a path or URL; a bare path (no `scheme://`) is a SQLite file."""
    if isinstance(value, Path):
        return Location("sqlite", value, f"sqlite:///{value}")
    text = str(value)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return Location("sqlite", Path(text), f"sqlite:///{text}")
    dialect = scheme.split("+", 1)[0].lower()  # `postgresql+psycopg://` names a driver too
    if dialect in SQLITE_SCHEMES:
        # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path.
        if not rest.startswith("/") or rest in ("/", "/:memory:"):
            raise ConfigurationError(
                f"store URL {text!r} names no file: write sqlite:///relative.db or "
                "sqlite:////absolute/path.db")
        return Location("sqlite", Path(rest[1:]), text)
    if dialect in POSTGRES_SCHEMES:
        return Location("postgresql", None, text)
    raise ConfigurationError(
        f"store location {text!r} has an unknown scheme {scheme!r}: give a file path, "
        "sqlite:///PATH, or postgresql://…")


def sqlite_file(location: str | Path) -> Path:
    """The file of a SQLite location; BackendUnavailable for any other backend."""
    parsed = parse_location(location)
    if parsed.backend == "postgresql":
        raise BackendUnavailable(
            f"{redacted(parsed.url)} names a PostgreSQL store, which has no store file "
            "(this command works on SQLite files: give a file path or sqlite:///PATH)")
    if parsed.path is None:  # pragma: no cover - parse_location gives SQLite a path
        raise ConfigurationError(f"store location {location!r} names no file")
    return parsed.path


def open_backend(location: str | Path, settings: Settings, *, read_only: bool = False,
                 create: bool = True, adopt: bool = False) -> Backend:
    """Open the backend a location names (initialising a new store when `create`)."""
    parsed = parse_location(location)
    if parsed.backend == "postgresql":
        from ..postgres import driver

        driver.require()
        from ..postgres.backend import PostgresBackend

        return PostgresBackend.open(parsed.url, settings, read_only=read_only, create=create,
                                    adopt=adopt)
    path = sqlite_file(location)
    from ..sqlite.backend import SQLiteBackend

    return SQLiteBackend.open(path, settings, read_only=read_only, create=create,
                              adopt=adopt)


def redacted(url: str) -> str:
    """The URL without a password (it goes into error messages and logs)."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def migrate_store(location: str | Path, settings: Settings) -> tuple[str | None, str]:
    """Upgrade the schema of the store a location names: (revision before, after)."""
    parsed = parse_location(location)
    if parsed.backend == "postgresql":
        from ..postgres import driver

        driver.require()
        from ..postgres.backend import migrate as migrate_postgres

        return migrate_postgres(parsed.url, settings)
    path = sqlite_file(location)
    from ..sqlite.backend import migrate

    return migrate(path, settings)


def engine_report(location: str | Path) -> dict[str, object]:
    """The engine of a location where no store exists yet: backend, driver, versions."""
    sqlite_file(location)
    from ..sqlite.backend import driver_report

    return driver_report()
