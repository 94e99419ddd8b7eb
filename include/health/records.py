"""The monitors' stored JSON records, read through a process-wide cache.

Every record this package's monitors store is written once and never changed (the first write
wins), so a record read once can be served from memory for the life of the process: a page over
a year of history reads each file once, then only the new ones. Uncached files are read by a
small fixed pool of threads (object stores answer many small reads faster side by side).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from include import storage

READERS = 8  # threads reading uncached records
LIMIT = 200_000  # records kept; past it the cache starts over (a year of hourly windows is 8,760)

_cache: dict[str, dict] = {}
_lock = threading.Lock()


def _read(path) -> dict:
    return json.loads(storage.read_bytes(path))


def read_many(paths: list) -> list[dict]:
    """The records at ``paths`` (ObjectStoragePaths), in the same order."""
    keys = [str(p) for p in paths]
    with _lock:
        known = {k: _cache[k] for k in keys if k in _cache}
    missing = list({k: p for k, p in zip(keys, paths, strict=True) if k not in known}.items())
    if missing:
        with ThreadPoolExecutor(max_workers=min(READERS, len(missing))) as pool:
            found = dict(
                zip((k for k, _ in missing), pool.map(lambda item: _read(item[1]), missing), strict=True)
            )
        known |= found
        with _lock:
            if len(_cache) + len(found) > LIMIT:
                _cache.clear()
            _cache.update(found)
    return [known[k] for k in keys]


def clear() -> None:
    with _lock:
        _cache.clear()
