"""The PostgreSQL backend: every PostgreSQL statement and trick (psycopg 3, pgvector).

Imported only when a store location is a `postgresql://` URL (`storage.select`);
nothing outside this package imports psycopg or writes PostgreSQL's SQL.
"""

from . import errors as errors  # registers psycopg's error translation (storage.errors)
