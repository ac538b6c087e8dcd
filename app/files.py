"""Uploaded files and the material locker (一次采集，全程共享).

Files live on disk under data/files/<first two hex of sha256>/<sha256> (content-addressed: the same scan
uploaded twice is stored once), their metadata in stored_files. Every upload is checked before it is kept:
not empty, not over the size limit, an extension the material accepts, and content that really is of that
type (the first bytes), so a renamed .exe is not accepted as a PDF.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import schema as s
from app import timeutil
from app.config import DATA_DIR, path_setting

MAX_BYTES = 20 * 1024 * 1024

# The first bytes each accepted format starts with. OFD, DOCX and XLSX are ZIP containers; DOC and XLS are
# OLE compound files; DWG starts with its version tag "AC10".
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "ofd": (b"PK\x03\x04",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "dwg": (b"AC10",),
}


def files_dir() -> Path:
    """Where uploads are kept: EZZ_FILES_DIR, else data/files (read at each call so tests can redirect it)."""
    return path_setting("EZZ_FILES_DIR", DATA_DIR / "files")


class FileRejected(ValueError):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Upload:
    file_name: str
    data: bytes


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_upload(upload: Upload, formats: list[str], max_bytes: int = MAX_BYTES) -> str:
    """Return the normalised extension, or raise FileRejected with the reason."""
    ext = extension_of(upload.file_name)
    allowed = {f.lower() for f in formats} | ({"jpeg"} if "jpg" in formats else set())
    if not upload.data:
        raise FileRejected("file.empty", name=upload.file_name)
    if len(upload.data) > max_bytes:
        raise FileRejected("file.too_large", name=upload.file_name, mb=max_bytes // (1024 * 1024))
    if ext not in allowed:
        raise FileRejected("file.wrong_type", name=upload.file_name, formats="、".join(formats))
    if not any(upload.data.startswith(sig) for sig in SIGNATURES.get(ext, (b"",))):
        raise FileRejected("file.content_mismatch", name=upload.file_name, ext=ext)
    return ext


def store(conn: Connection, upload: Upload, *, formats: list[str], owner_user_id: int | None,
          uploaded_by: int | None, max_bytes: int = MAX_BYTES) -> int:
    """Check and keep one file; returns its file_id. The bytes are written before the row, so a row never
    points at a missing file (a crash leaves at most an unreferenced file, never a dangling row)."""
    return store_many(conn, [(upload, formats)], owner_user_id=owner_user_id, uploaded_by=uploaded_by,
                      max_bytes=max_bytes)[0]


def stored_name(upload: Upload) -> str:
    """The file name kept for an upload: its last part, at most 200 characters."""
    return Path(upload.file_name).name[:200]


def write_durably(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write a new file so that it survives a crash once this returns — before the row naming it is committed:
    the bytes fsynced under a temporary name of this thread's own (two uploads of the same content may be written
    at once), renamed into place, and the directory entry fsynced. (Measured here: with 8 writers this costs
    less than leaving the bytes to the kernel, whose later flush then stalls the database's own fsync.)
    `sync=False` leaves the flush to the caller, who must call `make_durable` before the row commits (a batch
    of filings flushes all its files with one call instead of two fsyncs per file)."""
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.part"
    try:   # the folder is there but for the first file of its 256 (a mkdir each time took the folder's lock)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync:
        fsync_path(path.parent)


def fsync_path(path: Path | str) -> None:
    """fsync a file or a folder (a folder: the names in it, after a rename into it) by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2) — one flush of a whole filesystem, as if every file on it were fsynced — or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return None
    call.argtypes, call.restype = [ctypes.c_int], ctypes.c_int
    return call


_SYNCFS = _syncfs()


def make_durable(root: Path, stored: list[str]) -> None:
    """Flush files written with `sync=False` (paths relative to `root`, as stored_files.storage_path): one
    syncfs of the filesystem holding them where Linux has it (one journal commit for a whole batch's uploads,
    where an fsync of each file and of its folder costs two each), else each file and its folder fsynced."""
    if not stored:
        return
    if _SYNCFS is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(root))
        finally:
            os.close(fd)
        return
    for relative in dict.fromkeys(stored):
        fsync_path(root / relative)
    for folder in dict.fromkeys((root / relative).parent for relative in stored):
        fsync_path(folder)


def keep(upload: Upload, formats: list[str], root: Path, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Check one upload and write its bytes durably (once per content: the store is content-addressed and every
    stored file's bytes are written before its row); returns its stored_files row but the owner."""
    row = describe(upload, formats, max_bytes)
    path = root / row["storage_path"]
    if not os.path.exists(path):
        write_durably(path, upload.data)
    return row


def describe(upload: Upload, formats: list[str], max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Check one upload and name it by its content, writing nothing: its stored_files row but the owner and ids."""
    ext = check_upload(upload, formats, max_bytes)
    digest = hashlib.sha256(upload.data).hexdigest()
    return dict(file_name=stored_name(upload), extension=ext, size_bytes=len(upload.data), sha256=digest,
                storage_path=f"{digest[:2]}/{digest}")


_beside: ThreadPoolExecutor | None = None
_beside_lock = threading.Lock()


def absent(root: Path, stored: list[str]) -> set[str]:
    """Of the paths given (relative to `root`), those not in the store yet."""
    return {relative for relative in stored if not os.path.exists(root / relative)}


def write_beside(root: Path, new: dict[str, bytes], stored: list[str]) -> Future[None]:
    """Start writing a batch's new uploads (relative path -> bytes) in a thread of their own while the caller runs
    the batch's statements, then make all the batch's uploads (`stored`) durable together (make_durable). The
    caller waits for the future before committing; its error fails the batch.

    One thread for the process: batches are written one after another anyway, and a file created while a flush
    of the filesystem runs waits for it (measured on 2 cores: 1-5 ms per file when eight applicants' threads
    wrote their own uploads beside the batch's flush)."""
    global _beside
    with _beside_lock:
        if _beside is None:
            _beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ezz-uploads")
    return _beside.submit(_write_and_flush, root, dict(new), list(stored))


def _write_and_flush(root: Path, new: dict[str, bytes], stored: list[str]) -> None:
    for relative, data in new.items():
        write_durably(root / relative, data, sync=False)
    make_durable(root, stored)


def store_many(conn: Connection, uploads: list[tuple[Upload, list[str]]], *, owner_user_id: int | None,
               uploaded_by: int | None, max_bytes: int = MAX_BYTES) -> list[int]:
    """`store` for several uploads (each with the formats its material accepts) in one INSERT; returns their
    file_ids in the order given. Every file is checked and written before any row."""
    if not uploads:
        return []
    root = files_dir()
    at = timeutil.now()
    rows = [dict(owner_user_id=owner_user_id, **keep(u, formats, root, max_bytes), uploaded_at=at,
                 uploaded_by=uploaded_by) for u, formats in uploads]
    f = s.stored_files.c
    # rows as parameters (not .values(rows)): one compiled statement, sent as one INSERT of all rows (SQLAlchemy's
    # insertmanyvalues), instead of a new multi-row statement built and compiled at every call
    returned = conn.execute(s.stored_files.insert().returning(f.file_id, f.sha256, f.file_name), rows).all()
    return _in_order(rows, returned, ("sha256", "file_name"), "file_id")


def _in_order(rows: list[dict[str, Any]], returned: list[Any], key: tuple[str, ...], id_column: str) -> list[int]:
    """The ids RETURNING gave for a multi-row INSERT, in the order of `rows`, matched on `key` (SQL does not
    promise RETURNING's order); rows alike in `key` are alike in every column but the id, so which gets which
    does not matter."""
    ids: dict[tuple[Any, ...], list[int]] = {}
    for r in returned:
        ids.setdefault(tuple(r._mapping[k] for k in key), []).append(int(r._mapping[id_column]))
    for found in ids.values():
        found.sort(reverse=True)   # popped smallest first: the rows' order, as a sequence hands them out
    if len(returned) != len(rows):
        raise RuntimeError(f"INSERT returned {len(returned)} ids for {len(rows)} rows")
    return [ids[tuple(row[k] for k in key)].pop() for row in rows]


def read(conn: Connection, file_id: int) -> tuple[Any, bytes]:
    row = conn.execute(sa.select(s.stored_files).where(s.stored_files.c.file_id == file_id)).fetchone()
    if row is None:
        raise FileRejected("file.missing")
    path = files_dir() / row.storage_path
    if not path.is_file():
        # An imported material is its metadata only (植入): the old system's file was not brought over.
        raise FileRejected("file.missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise FileRejected("file.corrupt")
    return row, data


def add_to_locker(conn: Connection, *, owner_user_id: int, kind: str, name: str, file_id: int | None = None,
                  source_case_id: int | None = None, item_code: str | None = None,
                  certificate_no: str | None = None, issued_on: date | None = None,
                  expires_on: date | None = None) -> int:
    return int(conn.execute(s.locker_items.insert().values(
        owner_user_id=owner_user_id, kind=kind, name=name, file_id=file_id, source_case_id=source_case_id,
        item_code=item_code, certificate_no=certificate_no, issued_on=issued_on, expires_on=expires_on,
        created_at=timeutil.now(),
    ).returning(s.locker_items.c.locker_id)).scalar_one())


def add_files_to_locker(conn: Connection, *, owner_user_id: int, kind: str, entries: list[tuple[str, int]],
                        source_case_id: int | None = None) -> list[int]:
    """`add_to_locker` for several stored files at once — (name, file_id) each — in one INSERT; returns their
    locker_ids in the order given."""
    if not entries:
        return []
    at = timeutil.now()
    rows = [dict(owner_user_id=owner_user_id, kind=kind, name=name, file_id=file_id, source_case_id=source_case_id,
                 item_code=None, certificate_no=None, issued_on=None, expires_on=None, created_at=at)
            for name, file_id in entries]
    lk = s.locker_items.c
    returned = conn.execute(s.locker_items.insert().returning(lk.locker_id, lk.name, lk.file_id), rows).all()
    return _in_order(rows, returned, ("name", "file_id"), "locker_id")
