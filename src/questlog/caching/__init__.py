"""Caching by log position: never stale, because every key names the position it reflects.

The rule: a cached answer is keyed by (token, key), where the token is what the read
model's checkpoint row(s) said in the same read transaction that computed the answer
(or before it). A lookup first reads the current token — one cheap statement over
`projector_checkpoints` (`questlog.sqlite.read_positions`) — and only an entry under
that exact token can answer. An append, import, rebuild or skip moves the checkpoint,
so the next lookup misses and recomputes; nothing is ever invalidated by hand, and an
entry is never older than the checkpoint it is served under. Old tokens' entries are
simply evicted (least recently used first; the bound is `QUESTLOG_READ_CACHE_ENTRIES`,
0 turns the cache off).

The same tokens make HTTP ETags (`questlog.http.conditional`): an `If-None-Match`
that names the current token is answered 304 after reading the token alone.

On a read node (a store file opened read-only, a fresh connection per read) even that
read is skipped while a stat shows the file unchanged: the backend's token memo
(`questlog.sqlite.token_memo`, through `ReadModels.known_token`/`first_token`).

- `lru.PositionLRU`: the bounded, thread-safe in-process cache.
- `tokens`: which checkpoints each kind of read answer depends on.
"""

from .lru import PositionLRU
from .tokens import CONTENT, SEARCH, ReadModels, game_read_models

__all__ = ["CONTENT", "SEARCH", "PositionLRU", "ReadModels", "game_read_models"]
