"""The SQLite backend: every SQLite statement and trick questlog uses lives here.

Nothing outside this package (and SQLite's migrations) writes SQLite SQL or
imports `pysqlite3`/`sqlite3`/`sqlite_vec`.
"""

from . import errors as errors  # registers SQLite's error translation (storage.errors)
