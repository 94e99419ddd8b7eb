"""One URI-based storage layer for file:// and s3:// roots.

Everything the package writes lives under the storage root (``MLOPS_STORAGE_ROOT``) in
zones: ``landing/``, ``curated/``, ``quarantine/``. Paths are Airflow ObjectStoragePath
objects, so the same calls run on a local folder and on S3 through the amazon provider's
connection. Errors are re-raised as StorageError naming the URI and, on S3, the permission.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from airflow.sdk import ObjectStoragePath

from include import settings as settings_module
from include.errors import MlopsError

ZONES = ("landing", "curated", "quarantine", "capture")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,254}$")
_S3_ACTION = {
    "read": "s3:GetObject",
    "write": "s3:PutObject",
    "list": "s3:ListBucket",
    "delete": "s3:DeleteObject",
}


class StorageError(MlopsError, RuntimeError):
    """A storage operation failed; the message names the URI and the cause."""


def root(settings: settings_module.Settings | None = None) -> ObjectStoragePath:
    s = settings or settings_module.get()
    if s.storage_root.startswith("s3://"):
        return ObjectStoragePath(s.storage_root, conn_id=s.storage_conn_id)
    return ObjectStoragePath(s.storage_root)


def safe_segment(segment: str) -> str:
    """Reject a path segment that could leave the storage root (``..``, ``/``, empty...)."""
    if not isinstance(segment, str) or not _SEGMENT.match(segment) or ".." in segment:
        raise StorageError(
            f"refusing path segment {segment!r}: only letters, digits and _ . = - are allowed, "
            "and no '..', so nothing can escape the storage root"
        )
    return segment


def path(*segments: str, settings: settings_module.Settings | None = None) -> ObjectStoragePath:
    """A path under the storage root built from validated segments."""
    result = root(settings)
    for segment in segments:
        result = result / safe_segment(segment)
    return result


def partition(
    zone: str, dataset: str, day: date, settings: settings_module.Settings | None = None
) -> ObjectStoragePath:
    """``<root>/<zone>/<dataset>/dt=YYYY-MM-DD``."""
    if zone not in ZONES:
        raise StorageError(f"unknown zone {zone!r}; zones are {', '.join(ZONES)}")
    return path(zone, dataset, f"dt={day.isoformat()}", settings=settings)


def describe(p: ObjectStoragePath) -> str:
    """The URI of ``p`` without the connection id."""
    return f"{p.protocol}://{p.path}" if p.protocol not in ("file", "local") else f"file://{p.path}"


@contextmanager
def _errors(operation: str, p: ObjectStoragePath) -> Iterator[None]:
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StorageError(f"cannot {operation} {describe(p)}: it does not exist") from exc
    except PermissionError as exc:
        hint = f" (the credentials lack {_S3_ACTION[operation]})" if p.protocol == "s3" else ""
        raise StorageError(f"permission denied: cannot {operation} {describe(p)}{hint}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot {operation} {describe(p)}: {exc}") from exc


def _uncached(p: ObjectStoragePath) -> ObjectStoragePath:
    """Drop the filesystem's cached listings of ``p`` and its parents: s3fs keeps them for the
    process's life, so a long-lived process would not see what other processes wrote since."""
    invalidate = getattr(p.fs, "invalidate_cache", None)
    if invalidate is not None:
        invalidate(p.path)
    return p


def read_bytes(p: ObjectStoragePath) -> bytes:
    with _errors("read", p):
        return p.read_bytes()


@dataclass(frozen=True)
class FileState:
    """What a listing says of a file: its size and when it was last modified (POSIX seconds;
    on S3 the object's LastModified)."""

    size: int
    modified: float


def file_state(p: ObjectStoragePath) -> FileState:
    with _errors("read", p):
        if p.protocol in ("file", "local"):
            found = os.stat(p.path)
            return FileState(found.st_size, found.st_mtime)
        info = _uncached(p).fs.info(p.path)
        modified = info.get("LastModified") or info.get("mtime")
        modified = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
        return FileState(int(info["size"]), modified)


def exists(p: ObjectStoragePath) -> bool:
    with _errors("list", p):
        return _uncached(p).exists()


def list_files(directory: ObjectStoragePath) -> list[ObjectStoragePath]:
    """Files directly under ``directory``, sorted by name; an absent directory is empty. Hidden
    names are left out: they are the temporaries of writes still in progress."""
    with _errors("list", directory):
        if not _uncached(directory).exists():
            return []
        found = (c for c in directory.iterdir() if not c.name.startswith(".") and c.is_file())
        return sorted(found, key=lambda c: c.name)


@dataclass(frozen=True)
class TreeFile:
    """A file below a listed directory. ``refused`` says why it must not be read: a symbolic
    link, something that is not a regular file, or a path that resolves outside the root."""

    relative: str  # below the listed directory, "/"-separated
    path: ObjectStoragePath
    refused: str = ""


def _local_tree(directory: ObjectStoragePath, root_path: str) -> list[TreeFile]:
    base = directory.path
    inside = os.path.realpath(root_path)
    found = []

    def entry(full: str) -> TreeFile:
        relative = os.path.relpath(full, base).replace(os.sep, "/")
        refused = ""
        if os.path.islink(full):
            refused = f"is a symbolic link (to {os.readlink(full)}); landed data must be regular files"
        elif os.path.commonpath([os.path.realpath(full), inside]) != inside:
            refused = f"resolves to {os.path.realpath(full)}, outside the storage root {inside}"
        elif not os.path.isfile(full):
            refused = "is not a regular file"
        return TreeFile(relative, directory / relative, refused)

    # Links are listed and refused, never followed: nothing outside the root is read through one.
    for current, dirs, files in os.walk(base, followlinks=False):
        found += [entry(os.path.join(current, d)) for d in dirs if os.path.islink(os.path.join(current, d))]
        found += [entry(os.path.join(current, f)) for f in files]
    return found


def list_tree(
    directory: ObjectStoragePath, settings: settings_module.Settings | None = None
) -> list[TreeFile]:
    """Every file below ``directory`` at any depth, sorted by relative path; an absent
    directory is empty. On a local root, links and what resolves outside the root are
    listed with the reason they are refused."""
    with _errors("list", directory):
        if not _uncached(directory).exists():
            return []
        if directory.protocol in ("file", "local"):
            found = _local_tree(directory, root(settings).path)
        else:
            prefix = directory.path.rstrip("/") + "/"
            found = [
                TreeFile(key[len(prefix) :], directory / key[len(prefix) :])
                for key in directory.fs.find(directory.path)
                if key.startswith(prefix) and not key.endswith("/")
            ]
        return sorted(found, key=lambda f: f.relative)


def list_names(directory: ObjectStoragePath) -> list[str]:
    """The relative names ("a/b.json") of every regular file below ``directory``, sorted: plain
    strings, for listings of thousands of files (a path object each costs more than the listing).
    Hidden names (writes in progress) and, on a local root, symbolic links are left out, so a
    name never leads outside the root."""
    with _errors("list", directory):
        if not _uncached(directory).exists():
            return []
        if directory.protocol in ("file", "local"):
            found, pending = [], [(directory.path, "")]
            while pending:  # scandir's entries know their type: no call per file
                folder, prefix = pending.pop()
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith(".") or entry.is_symlink():
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            pending.append((entry.path, f"{prefix}{entry.name}/"))
                        elif entry.is_file(follow_symlinks=False):
                            found.append(prefix + entry.name)
            return sorted(found)
        prefix = directory.path.rstrip("/") + "/"
        keys = (key[len(prefix) :] for key in directory.fs.find(directory.path) if key.startswith(prefix))
        return sorted(
            k for k in keys if k and not k.endswith("/") and not k.rsplit("/", 1)[-1].startswith(".")
        )


def list_dirs(directory: ObjectStoragePath) -> list[ObjectStoragePath]:
    with _errors("list", directory):
        if not _uncached(directory).exists():
            return []
        return sorted((c for c in directory.iterdir() if c.is_dir()), key=lambda c: c.name)


def write_bytes_atomic(p: ObjectStoragePath, data: bytes) -> None:
    """Write so that a reader sees either the old object or the whole new one.

    On S3 a single PUT is already atomic. On a file system we write a hidden temporary
    file next to the target and rename it, which is atomic on POSIX.
    """
    with _errors("write", p):
        if p.protocol == "s3":
            p.write_bytes(data)
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.parent / f".{p.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        tmp.rename(p)


def create_exclusive(p: ObjectStoragePath, data: bytes) -> bool:
    """Create ``p`` holding ``data`` only if nothing is there yet; False if something is.

    The check and the write are one step, so of two writers racing for a name exactly one
    wins: on S3 a conditional PUT (``If-None-Match: *``), on a file system a hard link of a
    complete temporary file, which fails if the name exists. Readers never see a partial file.
    """
    with _errors("write", p):
        if p.protocol == "s3":
            try:
                p.fs.pipe_file(p.path, data, mode="create")
            except FileExistsError:
                return False
            finally:
                _uncached(p)
            return True
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.parent / f".{p.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        try:
            os.link(tmp.path, p.path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True


def write_once(p: ObjectStoragePath, data: bytes) -> None:
    """Write ``p`` unless it exists: its name stands for its content, so a retry that finds it
    has nothing new to say."""
    create_exclusive(p, data)


def delete(p: ObjectStoragePath) -> None:
    with _errors("delete", p):
        if p.exists():
            if p.protocol == "s3":
                # unlink() goes through fs.rm, a DeleteObjects batch that ignores per-key errors
                # such as AccessDenied; rm_file is a single DeleteObject that raises them.
                p.fs.rm_file(p.path)
            else:
                p.unlink()
