"""A reader process of the CSV fast path: reads slices of a listing's CSV lines from a SQLite
store into files (``csvlines`` starts it; see there).

Run as ``python -I csvreader.py``. It imports the standard library only — never Django or the
rest of Hospitium — so that it starts in a few tens of milliseconds and reads on a CPU of its own
(the reader threads it replaces shared one GIL with the writer, and two were slower than one).

The conversation, one line of JSON (or a word) at a time:

* parent → child: ``{"database", "timeout", "pragmas", "directory", "zone_function"}``;
* child: opens the store, starts a read transaction, takes its snapshot, answers ``ready``;
* parent → child: ``again`` (roll back, take a new snapshot, answer ``ready`` again) or
  ``{"slices": [[index, sql, params], …], "chunk_rows": n}``;
* child, per slice, in the order given: its lines (UTF-8) to ``<directory>/<index>.lines``, then
  ``{"done": index, "chunks": [[bytes, rows], …]}``;
* child: exits 0 after the last slice, or when stdin ends before ``slices`` (nothing to do).

An error is answered ``{"error": kind, "message": …}`` (kind: the ``sqlite3`` exception's class
name), and the child exits 1. A child whose parent is gone (reparented, or its stdout closed)
removes the directory and exits 3: nobody else would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

ORPHANED = 3
# django.utils.dateparse.datetime_re, as of Django 5.2: what parse_datetime accepts when
# fromisoformat does not.
_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


class Orphaned(Exception):
    """The parent is gone: nobody will read the files."""


def parse_datetime(value: str) -> dt.datetime | None:
    """``django.utils.dateparse.parse_datetime`` without Django: None for text that is not a
    datetime. Raises ValueError for one that is well formed but impossible."""
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        match = _DATETIME.match(value)
        if match is None:
            return None
        parts = match.groupdict()
        micro = parts.pop("microsecond")
        zone = parts.pop("tzinfo")
        tzinfo: dt.tzinfo | None = None
        if zone == "Z":
            tzinfo = dt.UTC
        elif zone is not None:
            minutes = 60 * int(zone[1:3]) + (int(zone[-2:]) if len(zone) > 3 else 0)
            tzinfo = dt.timezone(dt.timedelta(minutes=-minutes if zone[0] == "-" else minutes))
        numbers = {k: int(v) for k, v in parts.items() if v is not None}
        if micro:
            numbers["microsecond"] = int(micro.ljust(6, "0"))
        return dt.datetime(**numbers, tzinfo=tzinfo)


def local_text(value: str | None, zone_key: str) -> str | None:
    """``str()`` of a stored SQLite datetime (naive UTC text) in the zone ``zone_key`` — what
    ``csvlines._local_text`` gives in the parent. Raises ValueError for text that is not a
    datetime."""
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return str(parsed.astimezone(ZoneInfo(zone_key)))


class Reader:
    """One child: a read-only connection, its snapshot, and the slices it is given."""

    def __init__(self, config: dict[str, Any], out: IO[str]) -> None:
        self.directory = str(config["directory"])
        self.out = out
        self.parent = os.getppid()
        self.connection = sqlite3.connect(
            config["database"], uri=True, timeout=float(config["timeout"]), isolation_level=None
        )
        # the lines as SQLite's UTF-8 bytes, written as they are: no decoding, no encoding
        self.connection.text_factory = bytes
        for pragma in config["pragmas"]:
            self.connection.execute(pragma)
        self.connection.create_function(config["zone_function"], 2, local_text, deterministic=True)

    def say(self, message: str) -> None:
        """One line to the parent. Raises Orphaned when it no longer listens."""
        try:
            self.out.write(message + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError) as exc:
            raise Orphaned() from exc

    def snapshot(self) -> None:
        """A read transaction whose snapshot is taken now (a BEGIN alone takes none)."""
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")
        self.connection.execute("BEGIN")
        self.connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        self.say("ready")

    def check_parent(self) -> None:
        # Reparented (to init or a subreaper): the parent died without cleaning up.
        if os.getppid() != self.parent:
            raise Orphaned()

    def read(self, index: int, sql: str, params: list[Any], chunk_rows: int) -> None:
        """One slice's lines to its file, then ``done`` with the (bytes, rows) of each chunk."""
        chunks: list[list[int]] = []
        path = Path(self.directory) / f"{index}.lines"
        cursor = self.connection.execute(sql, params)
        try:
            with path.open("wb") as file:
                while rows := cursor.fetchmany(chunk_rows):
                    data = b"".join([row[0] for row in rows])
                    file.write(data)
                    chunks.append([len(data), len(rows)])
                    self.check_parent()
        finally:
            cursor.close()
        self.say(json.dumps({"done": index, "chunks": chunks}))


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    """The child's whole conversation (see the module's docstring); its exit status."""
    reader: Reader | None = None
    directory = ""
    try:
        config = json.loads(stdin.readline())
        directory = str(config["directory"])
        reader = Reader(config, stdout)
        reader.snapshot()
        while line := stdin.readline():
            if line.strip() == "again":
                reader.snapshot()
                continue
            order = json.loads(line)
            for index, sql, params in order["slices"]:
                reader.read(index, sql, params, int(order["chunk_rows"]))
            return 0
        reader.check_parent()  # stdin closed before any slice: not needed, or orphaned
        return 0
    except Orphaned:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
        return ORPHANED
    except sqlite3.Error as exc:
        _report(stdout, type(exc).__name__, str(exc))
        return 1
    except Exception as exc:  # anything else ends this reader too, and the parent says why
        _report(stdout, "Error", f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        if reader is not None:
            reader.connection.close()


def _report(stdout: IO[str], kind: str, message: str) -> None:
    try:
        stdout.write(json.dumps({"error": kind, "message": message}) + "\n")
        stdout.flush()
    except OSError:
        pass  # the parent is gone: it will not read it


def single_threaded_sqlite() -> bool:
    """Put this process's SQLite library in single-thread mode, without memory statistics (a
    reader has one connection on one thread): its calls then take no mutex, which was ~7 % of a
    listing row's instructions (callgrind, the 1M-visit hospital). Only in a reader process,
    before any connection is opened: ``sqlite3_shutdown`` with a connection open is undefined.

    The library is the one the ``_sqlite3`` extension itself links to (its symbols looked up
    through the extension). Returns whether it took effect; anything unexpected (a static build,
    another platform, a failed call) leaves the library as it was, which is only slower.
    """
    import ctypes

    try:
        import _sqlite3

        library = ctypes.CDLL(_sqlite3.__file__)
        sqlite_ok, single_thread, memstatus = 0, 1, 9  # SQLITE_OK, SQLITE_CONFIG_* numbers
        if library.sqlite3_shutdown() != sqlite_ok:
            return False
        done = library.sqlite3_config(single_thread) == sqlite_ok
        library.sqlite3_config(memstatus, ctypes.c_int(0))
        return library.sqlite3_initialize() == sqlite_ok and done
    except (OSError, AttributeError, ImportError):
        return False


if __name__ == "__main__":
    single_threaded_sqlite()
    status = serve(sys.stdin, sys.stdout)
    if status == ORPHANED:
        os._exit(status)  # not sys.exit: flushing the dead stdout again would fail the exit
    sys.exit(status)
