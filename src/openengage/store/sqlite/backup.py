"""`openengage backup`: a consistent copy of a live SQLite store (both files), taken while servers run.

The store is two files (see store.py): the store file, whose `processor_cursor` says which ingest-log
entries are applied, and the ingest log. Each is copied with `VACUUM INTO`, one read transaction each, so
each copy is a consistent snapshot and writers are never blocked (WAL readers do not block writers).

The two snapshots are taken one after the other, so the order matters:

1. the ingest log first (time t1): it holds every entry not yet applied at t1 (the processor prunes only
   entries at or below its cursor);
2. then the store file (time t2 > t1): its cursor is at least the cursor of t1.

So every entry accepted before t1 is either applied in the store copy or present in the log copy, or
both (the restored processor skips what the cursor says is applied): nothing acknowledged before the
backup started is missing. Entries accepted between t1 and t2 may be applied in the store copy without
being in the log copy; their ids lie above the log copy's AUTOINCREMENT sequence, so a restored log would
hand the same ids out again and the processor would skip them as applied. The copy's sequence is
therefore raised to the copied cursor.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from openengage.errors import ConfigError
from openengage.store.sqlite.store import ingest_path


@dataclasses.dataclass(frozen=True)
class BackupResult:
    store_path: str
    log_path: str
    cursor: int  # last ingest-log entry applied in the copy
    pending_entries: int  # entries in the log copy not yet applied
    bytes: int


def backup(store_path: str, dest: str) -> BackupResult:
    """Copy the store at `store_path` (and its ingest log) to `dest` (and its ingest-log sibling)."""
    source_log, dest_log = ingest_path(store_path), ingest_path(dest)
    for path in (store_path, source_log):
        if not Path(path).exists():
            raise ConfigError(f"no SQLite store at {path}")
    for path in (dest, dest_log):
        if Path(path).exists():
            raise ConfigError(f"{path} already exists; choose a new backup path")
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    try:
        copy(source_log, dest_log)  # the log first: see the module docstring
        copy(store_path, dest)
        return align(dest)
    except sqlite3.Error as exc:
        for path in (dest, dest_log):
            Path(path).unlink(missing_ok=True)
        raise ConfigError(f"backup failed: {exc}") from None


def copy(source: str, dest: str) -> None:
    """A consistent snapshot of one database file, in one read transaction (writers go on meanwhile)."""
    conn = sqlite3.connect(source, isolation_level=None)
    try:
        conn.execute("VACUUM INTO ?", (dest,))
    finally:
        conn.close()
    conn = sqlite3.connect(dest, isolation_level=None)
    try:  # VACUUM INTO writes a rollback-journal file; the store runs in WAL mode
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def align(dest: str) -> BackupResult:
    """Raise the copied log's id sequence to the copied cursor, so no new entry reuses an applied id."""
    dest_log = ingest_path(dest)
    main = sqlite3.connect(dest, isolation_level=None)
    log = sqlite3.connect(dest_log, isolation_level=None)
    try:
        cursor = int(main.execute("SELECT log_id FROM processor_cursor WHERE id = 1").fetchone()[0])
        log.execute("BEGIN IMMEDIATE")
        row = log.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        if row is None:
            log.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('entries', ?)", (cursor,))
        elif int(row[0]) < cursor:
            log.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'entries'", (cursor,))
        log.execute("COMMIT")
        pending = int(log.execute("SELECT count(*) FROM entries WHERE id > ?", (cursor,)).fetchone()[0])
    finally:
        main.close()
        log.close()
    size = Path(dest).stat().st_size + Path(dest_log).stat().st_size
    return BackupResult(dest, dest_log, cursor, pending, size)
