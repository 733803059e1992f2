"""The storage boundary, checked on the source (issue 11): engine code stays in its package.

- No module of the library outside the engine packages (`questlog/sqlite/`,
  `questlog/postgres/`) imports a database driver (`pysqlite3`, `sqlite3`,
  `sqlite_vec`, `psycopg`, `psycopg_pool`, `pgvector`), by statement or by `importlib`.
- Nor does it import an engine package itself (`questlog.sqlite.*`,
  `questlog.postgres.*`: driver loading, result codes, SQL), except the few
  composition points in `ENGINE_IMPORT_ALLOWED`; nor does it name a driver's error
  attributes or result codes (`sqlite_errorcode`, `SQLITE_BUSY`, `load_dbapi`,
  `sqlstate`): driver errors reach it translated, through `questlog.storage.errors`.
- No code in the library recognises an error by its message text (`"locked" in
  str(exc)`): errors are told apart by type and code (questlog.storage.errors).
- SQL text lives in the engine packages (and migrations/). The modules that still
  hold some are listed in `SQL_STILL_OUTSIDE`, a list that only shrinks: a module
  that no longer holds SQL must leave the list, one that starts to is refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "questlog"
ENGINE_PACKAGES = ("sqlite", "postgres")  # questlog/<name>/: one package per engine
DRIVERS = ("pysqlite3", "sqlite3", "sqlite_vec", "psycopg", "psycopg_pool", "pgvector")

# Modules (relative to src/questlog) outside the engine packages that still hold SQL text:
# none since issue 11 was finished. The mechanism stays so that a regression names itself.
SQL_STILL_OUTSIDE: frozenset[str] = frozenset()

# Modules outside the engine packages that may import from one (`questlog.sqlite.*`,
# `questlog.postgres.*`), each with the reason it still does. Everything else reaches the
# engine through the ports of questlog.storage (the backend's attributes) and the neutral
# error tree.
ENGINE_IMPORT_ALLOWED = frozenset({
    # The composition root: opens the backend a store location names (SQLite or
    # PostgreSQL) and migrates it.
    "storage/select.py",
    # Search's composition point: builds the engine's implementation of each search port
    # (chunks, vector and keyword indexes, embedding cache) until the backend hands them out.
    "search/indexes.py",
    # Litestream replicates SQLite files and nothing else: finding its binary (sqlite.wal)
    # and checking a restored file's integrity are SQLite's by nature.
    "replication/binary.py",
    "replication/restore.py",
})
# What only an engine package may know of its driver: how it is loaded and how its errors
# say what they are.
DRIVER_KNOWLEDGE = re.compile(
    r"^(load_dbapi|sqlite_errorcode|sqlite_errorname|sqlstate|pgcode"  # pgcode: psycopg 2's
    r"|SQLITE_(ERROR|INTERNAL|PERM|ABORT|BUSY|LOCKED|NOMEM|READONLY|INTERRUPT|IOERR|CORRUPT"
    r"|NOTFOUND|FULL|CANTOPEN|PROTOCOL|SCHEMA|TOOBIG|CONSTRAINT|MISMATCH|MISUSE|AUTH|RANGE"
    r"|NOTADB)(_[A-Z_]+)?)$")  # a result code, primary or extended (sqlite.org/rescode.html)

# Matching an error's message text, allowed only where the error has no type or code to
# tell it by. Shrink as the owners move them.
MESSAGE_MATCH_ALLOWED = frozenset({
    # Python's int-digits limit is a plain ValueError with no subclass or code.
    "cli/common.py",
})

SQL = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\S+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|DROP)\s+(TEMP\s+)?(TABLE|INDEX|TRIGGER|VIRTUAL|VIEW)\b"
    r"|\bALTER\s+TABLE\b|\bPRAGMA\s+\w+\s*(=|\(|$)|\bBEGIN(\s+IMMEDIATE)?\s*$|^\s*(COMMIT|ROLLBACK)\b"
    r"|\bSAVEPOINT\s+\w+|\bRELEASE\s+\w+\s*$|\bsqlite_master\b|\bjsonb?_each\("
)


def library_modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(LIBRARY).as_posix()
        if rel.split("/", 1)[0] in ("projections", "migrations"):
            continue  # symlinks of the shipped packages in some installs
        yield rel, ast.parse(path.read_text(), filename=str(path))


def in_engine_package(rel: str) -> bool:
    return rel.split("/", 1)[0] in ENGINE_PACKAGES


def imported_modules(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and _call_name(node) in ("import_module", "find_spec", "__import__")):
            yield node.args[0].value


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_no_driver_is_imported_outside_the_engine_packages() -> None:
    found = [f"{rel}: {name}" for rel, tree in library_modules() if not in_engine_package(rel)
             for name in imported_modules(tree) if name.split(".", 1)[0] in DRIVERS]
    assert found == []


def absolute_imports(rel: str, tree: ast.Module) -> Iterator[str]:
    """Every module `tree` (at `rel` under src/questlog) imports, relative ones resolved;
    `from X import a` also yields `X.a` (a may be a submodule)."""
    package = ["questlog", *rel.split("/")[:-1]]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[:len(package) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
        else:
            continue
        yield module
        yield from (f"{module}.{alias.name}" for alias in node.names)
    yield from imported_modules(tree)


def imports_engine(rel: str, tree: ast.Module) -> list[str]:
    return sorted({name for name in absolute_imports(rel, tree)
                   if name.split(".")[:2] in (["questlog", e] for e in ENGINE_PACKAGES)})


def test_the_engine_package_is_imported_only_where_an_engine_is_composed() -> None:
    found = {rel: names for rel, tree in library_modules() if not in_engine_package(rel)
             if (names := imports_engine(rel, tree))}
    assert set(found) - ENGINE_IMPORT_ALLOWED == set(), found
    assert ENGINE_IMPORT_ALLOWED - set(found) == set(), "no longer imports it: take off the list"


def test_the_engine_import_check_resolves_relative_imports() -> None:
    assert imports_engine("search/x.py", ast.parse("from ..sqlite.driver import vec_status"))
    assert imports_engine("x.py", ast.parse("from . import sqlite"))
    assert imports_engine("http/x.py", ast.parse("import questlog.sqlite.errors"))
    assert not imports_engine("search/x.py", ast.parse("from .sqlite_notes import x"))
    assert not imports_engine("http/x.py", ast.parse("from ..storage.errors import translate"))


def driver_knowledge(tree: ast.Module) -> list[str]:
    """Names, attributes and strings (`getattr(exc, "sqlite_errorcode")`) that only the
    engine package may know."""
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        text = (node.id if isinstance(node, ast.Name) else node.attr
                if isinstance(node, ast.Attribute) else node.value
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip else None)
        if text is not None and DRIVER_KNOWLEDGE.match(text):
            found.append(f"{node.lineno}: {text}")  # type: ignore[attr-defined]
    return found


def test_no_driver_error_code_is_known_outside_the_engine_packages() -> None:
    found = {rel: names for rel, tree in library_modules() if not in_engine_package(rel)
             if (names := driver_knowledge(tree))}
    assert found == {}


def test_the_driver_knowledge_check_sees_codes() -> None:
    assert driver_knowledge(ast.parse("code = getattr(exc, 'sqlite_errorcode', None)"))
    assert driver_knowledge(ast.parse("if code == SQLITE_BUSY:\n    pass"))
    assert driver_knowledge(ast.parse("dbapi = load_dbapi()"))
    assert driver_knowledge(ast.parse("x = 'SQLITE_IOERR_SHORT_READ'"))
    assert driver_knowledge(ast.parse("state = exc.sqlstate"))
    assert not driver_knowledge(ast.parse("from ..storage.errors import is_corruption"))
    assert not driver_knowledge(ast.parse("SQLITE_SCHEMES = ('sqlite',)"))


def test_the_engine_package_does_import_its_driver() -> None:
    """The check above looks where the imports are (it would pass on an empty tree)."""
    found = {name.split(".", 1)[0] for rel, tree in library_modules()
             if in_engine_package(rel) for name in imported_modules(tree)}
    assert {"pysqlite3", "sqlite_vec", "psycopg", "psycopg_pool"} <= found


def _docstrings(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                ids.add(id(body[0].value))
    return ids


def string_texts(tree: ast.Module) -> Iterator[str]:
    """Every string literal and f-string (its literal parts joined) except docstrings."""
    skip = _docstrings(tree)
    parts_of_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v for v in node.values if isinstance(v, ast.Constant)]
            parts_of_fstrings.update(id(v) for v in parts)
            yield " ? ".join(str(v.value) for v in parts)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip and id(node) not in parts_of_fstrings):
            yield node.value


def holds_sql(tree: ast.Module) -> bool:
    return any(SQL.search(text) for text in string_texts(tree))


def test_sql_text_stays_in_the_engine_packages() -> None:
    holding = {rel for rel, tree in library_modules()
               if not in_engine_package(rel) and holds_sql(tree)}
    assert holding - SQL_STILL_OUTSIDE == set(), "SQL text outside the engine packages"
    assert SQL_STILL_OUTSIDE - holding == set(), "no SQL left: take these off the list"


def test_the_sql_check_sees_sql_and_not_prose() -> None:
    def check(source: str) -> bool:
        return holds_sql(ast.parse(source))

    assert check('x = "SELECT position FROM events WHERE stream_id = ?"')
    assert check('x = f"INSERT INTO {table} (a) VALUES (?)"')
    assert check('conn.execute("BEGIN IMMEDIATE")')
    assert check('conn.execute(f"PRAGMA busy_timeout={ms}")')
    assert check('x = "SELECT name FROM sqlite_master"')
    assert not check('"""Docstring: the writer runs BEGIN IMMEDIATE, then COMMIT."""')
    assert not check('msg = "select a store from the list, then commit to it"')
    assert not check('help = "PRAGMA synchronous for the writer connection."')
    # The engine package is where the log's SQL went.
    assert all(holds_sql(tree) for rel, tree in library_modules()
               if rel in ("sqlite/log.py", "sqlite/transactions.py", "sqlite/connections.py"))


def _contains_str_call(node: ast.AST, names: set[str]) -> bool:
    """Whether `node` holds `str(<name>)` (or `<name>.args`) for one of `names`."""
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Call) and getattr(sub.func, "id", None) in ("str", "repr")
                and sub.args and isinstance(sub.args[0], ast.Name)
                and (not names or sub.args[0].id in names)):
            return True
        if (isinstance(sub, ast.Attribute) and sub.attr == "args"
                and isinstance(sub.value, ast.Name) and sub.value.id in names):
            return True
    return False


def message_matches(tree: ast.Module) -> list[int]:
    """Lines that test an error's text: `"…" in str(exc)` anywhere, and within an
    `except … as e:` block any `in`/`startswith`/`re.search` over `str(e)` or over a
    name assigned from it."""
    lines: list[int] = []
    for node in ast.walk(tree):
        # Anywhere: a string literal looked for in str(something).
        if (isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn))
                                                  for op in node.ops)
                and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
                and any(_contains_str_call(c, set()) for c in node.comparators)):
            lines.append(node.lineno)
        if not (isinstance(node, ast.ExceptHandler) and node.name):
            continue
        names = {node.name}
        texts: set[str] = set()
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Assign) and _contains_str_call(sub.value, names)):
                texts.update(t.id for t in sub.targets if isinstance(t, ast.Name))
        for sub in ast.walk(node):
            operands: list[ast.AST] = []
            if isinstance(sub, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn))
                                                     for op in sub.ops):
                operands = [sub.left, *sub.comparators]
            elif isinstance(sub, ast.Call) and _call_name(sub) in (
                    "startswith", "endswith", "search", "match", "fullmatch", "find"):
                operands = [sub.func, *sub.args]
            for operand in operands:
                if _contains_str_call(operand, names) or any(
                        isinstance(n, ast.Name) and n.id in texts for n in ast.walk(operand)):
                    lines.append(sub.lineno)
                    break
    return sorted(set(lines))


def test_no_error_is_recognised_by_its_message_text() -> None:
    found = {rel: lines for rel, tree in library_modules()
             if (lines := message_matches(tree))}
    assert set(found) - MESSAGE_MATCH_ALLOWED == set(), found
    assert MESSAGE_MATCH_ALLOWED - set(found) == set(), "no longer matches: take off the list"


@pytest.mark.parametrize("source", [
    # what writer._begin did before issue 11
    "try:\n    f()\nexcept Exception as exc:\n    text = str(exc).lower()\n"
    "    if 'locked' not in text:\n        raise\n",
    "try:\n    f()\nexcept Exception as e:\n    if 'no such table' in str(e):\n        pass\n",
    "try:\n    f()\nexcept Exception as e:\n    if str(e).startswith('UNIQUE'):\n        pass\n",
    "def missing(exc):\n    return 'no such table' in str(exc)\n",
])
def test_the_message_check_sees_message_matching(source: str) -> None:
    assert message_matches(ast.parse(source))


def test_the_message_check_lets_codes_and_formatting_pass() -> None:
    source = ("try:\n    f()\nexcept Exception as exc:\n    if is_busy(exc):\n        pass\n"
              "    log.warning('failed: %s', str(exc))\n    text = ' '.join(str(exc).split())\n")
    assert message_matches(ast.parse(source)) == []
