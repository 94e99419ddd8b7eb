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


def read_many(directory, names: list[str]) -> list[dict]:
    """The records ``names`` (relative to ``directory``, an ObjectStoragePath), in that order. A
    path object is built only for a record not read yet: building one costs more than the lookup."""
    base = str(directory).rstrip("/")
    keys = [f"{base}/{n}" for n in names]
    with _lock:
        known = {k: _cache[k] for k in keys if k in _cache}
    missing = [(k, n) for k, n in dict(zip(keys, names, strict=True)).items() if k not in known]
    if missing:
        with ThreadPoolExecutor(max_workers=min(READERS, len(missing))) as pool:
            found = dict(
                zip(
                    (k for k, _ in missing),
                    pool.map(lambda item: json.loads(storage.read_bytes(directory / item[1])), missing),
                    strict=True,
                )
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
