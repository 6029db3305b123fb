#!/usr/bin/env python3
"""The integration log kept in SQLite, from Python.

A storage hook (:class:`SQLiteStore`) on the standard ``sqlite3`` module and
a fake marketplace as the transport, driven through the ``stockguard``
Python binding (bindings/python). Run it from the source tree after a build::

    STOCKGUARD_LIBRARY=build/lib/libstockguard.so.1 PYTHONPATH=bindings/python \\
        python3 examples/sqlite-store/sqlite_store.py /tmp/stock.db

It does what the C demo (demo.c) does, with the same output: the stock file
goes into the log while the marketplace is unreachable, the connector stops,
starts again and the log sends what the database kept. The tables are the
ones sqlite_store.c uses (one row per integration and SKU, the entry as the
bytes of ``stockguard.encode``; one row per integration record), so a
database made by either opens in the other.

The choices, as in sqlite_store.c:

* ``PRAGMA synchronous=FULL``: a write is on disk when its COMMIT returns,
  which is what the log's Durability contract asks of ``write``.
* ``journal_mode=WAL``: one fsync of the -wal file per commit, where DELETE
  syncs a rollback journal and the database (several fsyncs per write);
  both are crash-safe with FULL. WAL needs a local filesystem, and a log is
  opened by one process at a time anyway.
* The connection is in autocommit mode (``isolation_level=None``): outside
  a transaction each write or remove is its own, committed before the hook
  returns. The load reads in one read transaction (a single snapshot).
* Transactions (storage hook version 2): ``begin``/``commit``/``rollback``
  let the log make one commit (one fsync) of each batch call, and of a
  ``with log.transaction():`` block. A failed write can end SQLite's
  transaction by itself (SQLITE_FULL, I/O errors); the store then refuses
  the writes that follow and fails the commit, rather than let them
  autocommit one by one behind the log's back.
* Integration records (``write_integration``/``load_integrations``): a
  pause made with ``Log.pause`` is a row of a second table,
  ``stg_integration (integration, flags, updated_at)``, plain columns as in
  sqlite_store.c (flags 1 is the pause), so a manual pause survives a
  reopen in either language. The binding hands Python only the pause bit,
  so this store writes flags 0 or 1.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from typing import Callable, Dict, Iterator, Tuple

try:
    import stockguard as sg
except ImportError:  # run from the source tree without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, os.pardir, "bindings", "python"))
    import stockguard as sg

CREATE = """CREATE TABLE IF NOT EXISTS stg_entry (
    integration TEXT NOT NULL,
    sku TEXT NOT NULL,
    entry BLOB NOT NULL,
    PRIMARY KEY (integration, sku)
) WITHOUT ROWID"""

# The C store's second table, the same columns (see sqlite_store.h).
CREATE_INTEGRATION = """CREATE TABLE IF NOT EXISTS stg_integration (
    integration TEXT NOT NULL PRIMARY KEY,
    flags INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID"""

PAUSED = 0x1  # STG_INTEGRATION_PAUSED, the flag sqlite_store.c stores


class SQLiteStore:
    """A stockguard storage hook in SQLite: entries and integration records.

    Give it to :class:`stockguard.Log` as ``storage=``; close the log before
    the store. Like the log, it serves one thread at a time.
    """

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        try:
            mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":  # e.g. ":memory:"
                raise ValueError("%s: journal_mode is %s, not wal (the store needs a database "
                                 "file on a local filesystem)" % (path, mode))
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute(CREATE)
            self.db.execute(CREATE_INTEGRATION)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ the hook
    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A load's read transaction (when none is open): one snapshot."""
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        try:
            yield
        finally:
            if own:  # a read transaction: ending it only releases the snapshot
                self.db.execute("COMMIT")

    def load(self, sink: Callable[[sg.Entry], None]) -> None:
        """Stream every stored entry to ``sink``, at ``Log()``.

        A row that is not a valid entry raises :class:`stockguard.Corrupt`
        (or Truncated), which fails the open. When the log refuses an entry,
        ``sink`` raises: the load stops there and the binding hands the log's
        verdict back to it.
        """
        with self._snapshot():
            for integration, sku, blob in self.db.execute(
                    "SELECT integration, sku, entry FROM stg_entry"):
                entry = sg.decode(blob)  # checks magic, version, fields and CRC
                if entry.key != (integration, sku):
                    raise sg.Corrupt(sg.Status.ECORRUPT, "row (%s, %s) holds the entry of (%s, %s)"
                                     % (integration, sku, entry.integration, entry.sku))
                sink(entry)

    def write_integration(self, state: sg.IntegrationState) -> None:
        """Store the record of one integration (``Log.pause``/``Log.resume``
        write it): committed before returning, as ``write``. A resumed one
        keeps its row, with flags 0: one upsert either way."""
        self._run("INSERT OR REPLACE INTO stg_integration (integration, flags, updated_at) "
                  "VALUES (?, ?, ?)",
                  (state.integration, PAUSED if state.paused else 0, state.updated_at))

    def load_integrations(self, sink: Callable[[sg.IntegrationState], None]) -> None:
        """Stream every integration record to ``sink``, at ``Log()`` (after
        ``load``). A row whose columns are not a name and two integers raises
        :class:`stockguard.Corrupt`, which fails the open."""
        with self._snapshot():
            for integration, flags, updated_at in self.db.execute(
                    "SELECT integration, flags, updated_at FROM stg_integration"):
                # SQLite keeps each value's own type: a hand-edited row could hold text.
                if (not isinstance(integration, str) or type(flags) is not int
                        or type(updated_at) is not int or not 0 <= flags <= 0xFFFFFFFF):
                    raise sg.Corrupt(sg.Status.ECORRUPT, "the row of %r is not a valid integration "
                                     "record" % (integration,))
                sink(sg.IntegrationState(integration, bool(flags & PAUSED), updated_at))

    def write(self, entry: sg.Entry) -> None:
        """Store ``entry`` (replacing its key's): committed before returning,
        or by ``commit`` inside a transaction."""
        self._run("INSERT OR REPLACE INTO stg_entry (integration, sku, entry) VALUES (?, ?, ?)",
                  (entry.integration, entry.sku, sg.encode(entry)))

    def remove(self, integration: str, sku: str) -> None:
        """Delete the entry of (integration, sku); absent is success."""
        self._run("DELETE FROM stg_entry WHERE integration = ? AND sku = ?", (integration, sku))

    def begin(self) -> None:
        """Open the log's transaction (BEGIN IMMEDIATE: the write lock now,
        not at the first write, so a busy database fails here, early)."""
        self.db.execute("BEGIN IMMEDIATE")
        self._txn = True
        self._lost = False

    def commit(self) -> bool:
        """COMMIT; False when the transaction ended by itself before."""
        self._txn = False
        if self._lost or not self.db.in_transaction:
            return False
        self.db.execute("COMMIT")
        return True

    def rollback(self) -> None:
        """ROLLBACK what is left (nothing, when SQLite ended it already)."""
        self._txn = False
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def _run(self, sql: str, args: Tuple[object, ...]) -> None:
        if getattr(self, "_txn", False) and (self._lost or not self.db.in_transaction):
            self._lost = True
            raise sqlite3.OperationalError("the transaction ended after an earlier failure")
        try:
            self.db.execute(sql, args)
        except sqlite3.Error:
            if getattr(self, "_txn", False) and not self.db.in_transaction:
                self._lost = True
            raise

    def count(self) -> int:
        """How many entries the table holds."""
        return self.db.execute("SELECT count(*) FROM stg_entry").fetchone()[0]


class FakeMarketplace:
    """The transport: when up, prints each job and acknowledges it; when
    down, raises ConnectionError (the transport failed as a whole: the log
    keeps the jobs queued, and ``Log.pump`` re-raises the error)."""

    def __init__(self) -> None:
        self.up = False
        self.stock: Dict[Tuple[str, str], int] = {}

    def send(self, job: sg.Job) -> sg.Result:
        if not self.up:
            raise ConnectionError("marketplace unreachable")
        self.stock[(job.integration, job.sku)] = job.published
        print("  marketplace: %s %s = %d%s" % (job.integration, job.sku, job.published,
                                               " (min stock reached)" if job.min_stock_reached
                                               else ""))
        return sg.Result.ok()


INTEGRATION = "amazon"
STOCK = [("MUG-RED", 40), ("MUG-BLUE", 4), ("CAP-M", 12), ("CAP-L", 2), ("OLD-BAG", 7)]


def show(log: sg.Log, store: SQLiteStore) -> None:
    print("  log (%d rows in the table):" % store.count())
    for e in log.query(page_size=4):
        line = "    %-6s %-10s %-7s available %3d published %3d" % (
            e.integration, e.sku, e.status.name.lower(), e.available, e.published)
        if e.has_acked:
            line += " acked %3d" % e.acked
        if e.job_state != sg.JobState.NONE:
            line += " job %s" % e.job_state.name.lower()
        print(line)


@contextlib.contextmanager
def start(path: str, policy: sg.Policy, market: FakeMarketplace) -> Iterator[Tuple[sg.Log, SQLiteStore]]:
    """Open the store and the log on it (the log loads every stored entry)."""
    with SQLiteStore(path) as store:
        with sg.Log(storage=store, transport=market) as log:
            log.set_policy(INTEGRATION, policy)
            yield log, store
        # the log is closed before its store


def submit(log: sg.Log, sku: str, available: int, sequence: int) -> None:
    r = log.submit(INTEGRATION, sku, available, sequence=sequence)
    print("  submit %s %d: %s (%s), publishes %d" % (sku, available, r.decision.name.lower(),
                                                   r.reason.name.lower(), r.published))


def main(argv: list) -> int:
    if len(argv) != 2:
        print("usage: sqlite_store.py DB", file=sys.stderr)
        return 2
    path = argv[1]
    market = FakeMarketplace()
    with sg.Policy(min_stock=3) as policy:  # CAP-L (2) publishes 0
        print("1. start; the marketplace is unreachable")
        with start(path, policy, market) as (log, store):
            # The whole stock file: the log makes it one commit (one fsync, not five).
            done = log.submit_batch(sg.Submission(INTEGRATION, sku, available, sequence=1)
                                    for sku, available in STOCK)
            print("  submitted %d changes in one transaction" % len(done))
            try:
                log.pump()
                raise SystemExit("sqlite_store.py: the pump should have failed")
            except ConnectionError as exc:
                err = exc.__cause__  # the library's TransportError, with what was sent
                print("  pump: %s, %d sent" % (sg.strerror(err.code), err.sent))
            show(log, store)

        print("2. restart; the marketplace is back")
        market.up = True
        with start(path, policy, market) as (log, store):
            show(log, store)
            print("  pump: %d sent" % log.pump())
            submit(log, "CAP-M", 1, 2)
            submit(log, "MUG-RED", 35, 2)
            print("  pump: %d sent" % log.pump())
            log.remove(INTEGRATION, "OLD-BAG")
            print("  removed OLD-BAG")

        print("3. restart")
        with start(path, policy, market) as (log, store):
            show(log, store)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
