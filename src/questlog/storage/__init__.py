"""Storage ports: what a backend (SQLite today, PostgreSQL next) implements.

Only backend-neutral things live here: the protocols each backend implements,
one module per port, and the neutral error tree that driver errors are
translated into (by type and error code, never by message text). Engine code
lives in one package per engine (`questlog.sqlite`); nothing outside such a
package writes SQL text or imports a database driver.

Every port method takes the `Session` it runs in as its first argument, so the
writer can hand one transaction to the log recorder, the inline projectors and
the checkpoints alike (as eventsourcing's recorders share one connection).
"""
