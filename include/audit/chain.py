"""The audit trail as hash chains: one chain of entries per stream (a registered model).

``audit/<stream>/entries/<seq>.json`` holds one entry: the events one task recorded at once,
its sequence number, the hash of the entry before it and its own hash. An entry is created only
if its sequence number is free (a conditional create), so two writers can never both append
entry 8: the loser reads the new head and tries again. ``audit/<stream>/keys/<key>.json`` says
which entry holds a task's keyed events, so a retry of the task appends nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from include import settings as settings_module
from include import storage
from include.errors import MlopsError

GENESIS = "0" * 64
SEQ_DIGITS = 12
APPEND_ATTEMPTS = 50  # writers racing for one stream; bounded by count, never by a clock
RETRY_LOOKBACK = 16  # entries searched for a retried key whose marker was never written


class ChainError(MlopsError, RuntimeError):
    """The chain could not be extended; the message names the stream."""


@dataclass(frozen=True)
class Entry:
    seq: int
    body: dict  # as stored, including "hash"
    uri: str


def canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(body: dict) -> str:
    """The sha256 of the entry without its own ``hash`` field."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


def stream_dir(stream: str, settings: settings_module.Settings | None = None):
    return storage.path("audit", stream, settings=settings)


def entry_name(seq: int) -> str:
    return f"{seq:0{SEQ_DIGITS}d}.json"


def streams(settings: settings_module.Settings | None = None) -> list[str]:
    return [d.name for d in storage.list_dirs(storage.path("audit", settings=settings))]


def entry_paths(stream: str, settings: settings_module.Settings | None = None) -> list:
    """The stream's entry objects in sequence order (their names are zero-padded numbers)."""
    return storage.list_files(stream_dir(stream, settings) / "entries")


def load(path) -> Entry:
    body = json.loads(storage.read_bytes(path))
    return Entry(int(body["seq"]), body, storage.describe(path))


def newest_first(stream: str, settings: settings_module.Settings | None = None) -> Iterator[Entry]:
    for path in reversed(entry_paths(stream, settings)):
        yield load(path)


def _marker(stream: str, key_hash: str, settings):
    return stream_dir(stream, settings) / "keys" / f"{key_hash}.json"


def _already_recorded(stream: str, key_hash: str, paths: list, settings) -> Entry | None:
    marker = _marker(stream, key_hash, settings)
    if storage.exists(marker):
        seq = json.loads(storage.read_bytes(marker))["seq"]
        return load(stream_dir(stream, settings) / "entries" / entry_name(seq))
    # The writer may have died between its entry and its marker: look at the newest entries.
    for path in reversed(paths[-RETRY_LOOKBACK:]):
        entry = load(path)
        if entry.body.get("key") == key_hash:
            storage.write_once(marker, canonical({"seq": entry.seq}))
            return entry
    return None


def append(stream: str, key: str, fields: dict, settings: settings_module.Settings | None = None) -> Entry:
    """Append an entry holding ``fields`` (events, run, task) to ``stream``, once per ``key``."""
    key_hash = hashlib.sha256(key.encode()).hexdigest()[:32]
    entries = stream_dir(stream, settings) / "entries"
    for _ in range(APPEND_ATTEMPTS):
        paths = entry_paths(stream, settings)
        done = _already_recorded(stream, key_hash, paths, settings)
        if done is not None:
            return done
        head = load(paths[-1]).body if paths else None
        seq = head["seq"] + 1 if head else 1
        body = {
            **fields,
            "stream": stream,
            "seq": seq,
            "key": key_hash,
            "prev": head["hash"] if head else GENESIS,
        }
        body["hash"] = entry_hash(body)
        path = entries / entry_name(seq)
        if storage.create_exclusive(path, canonical(body)):
            storage.write_once(_marker(stream, key_hash, settings), canonical({"seq": seq}))
            return Entry(seq, body, storage.describe(path))
    raise ChainError(
        f"audit stream {stream!r} at {storage.describe(entries)}: {APPEND_ATTEMPTS} attempts to "
        "append lost the race to other writers; retry the task"
    )
