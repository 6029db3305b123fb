#!/usr/bin/env python3
"""The Python SQLite storage hook (examples/sqlite-store/sqlite_store.py).

    sqlite_store_py_test.py [C-DEMO]

Needs the binding (PYTHONPATH=bindings/python) and the library
(STOCKGUARD_LIBRARY). Checks, each in a fresh database:
  - a database the C demo made opens in Python with the same entries
    (given the C demo's path), and one Python made is the same table;
  - a reopened log has what was written, minus what was removed;
  - a row that is not an entry, or is filed under another key, fails the
    open with Corrupt/Truncated;
  - an entry the log refuses stops the load: its verdict comes back;
  - a failing write is a StorageError and leaves the log as it was;
  - a batch call is one commit; log.transaction() groups single calls into
    one commit; a commit that fails undoes the block in the log and in the
    database; a begin that cannot take the write lock applies nothing;
  - ":memory:" is refused;
  - a manual pause survives a reopen (a row of stg_integration, the C
    store's format both ways), a resume too; a failing record write pauses
    nothing; a bad record row fails the open.
Prints TAP; exit status 0 when every check passed.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "examples", "sqlite-store"))

import stockguard as sg  # noqa: E402
from sqlite_store import SQLiteStore  # noqa: E402

checks = []


def check(ok, what):
    checks.append(bool(ok))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(checks), what))


def acks(job):
    return sg.Result.ok()


def raises(exc_type, fn):
    try:
        fn()
    except exc_type as exc:
        return exc
    return None


def open_log(path):
    store = SQLiteStore(path)
    try:
        log = sg.Log(storage=store, transport=acks)
    except BaseException:
        store.close()
        raise
    return store, log


def test_c_demo_database(tmp, c_demo):
    path = os.path.join(tmp, "c.db")
    subprocess.run([c_demo, path], check=True, stdout=subprocess.DEVNULL)
    store, log = open_log(path)
    with store, log:
        got = {e.sku: (e.status, e.available, e.published, e.acked) for e in log}
        check(got == {"CAP-L": (sg.EntryStatus.SUCCESS, 2, 0, 0),
                      "CAP-M": (sg.EntryStatus.SUCCESS, 1, 0, 0),
                      "MUG-BLUE": (sg.EntryStatus.SUCCESS, 4, 4, 4),
                      "MUG-RED": (sg.EntryStatus.SUCCESS, 35, 35, 40)},
              "the C demo's database opens in Python: %r" % (got,))
        r = log.submit("amazon", "MUG-BLUE", 0, sequence=3)
        check(r.decision == sg.Decision.EXPORT and log.pump() == 1,
              "and goes on from where C left it")


def test_round_trip(tmp):
    path = os.path.join(tmp, "rt.db")
    store, log = open_log(path)
    with store, log:
        for i in range(10):
            log.submit("shop", "S%d" % i, i, sequence=1)
        log.pump(3)
        log.remove("shop", "S0", force=True)
        check(store.count() == 9, "9 rows after 10 submits and a remove")
        store.remove("shop", "absent")  # absent is success
    store, log = open_log(path)
    with store, log:
        check(("shop", "S0") not in log, "the removed entry stays removed")
        e = log.get("shop", "S9")
        check(e.available == 9 and e.status == sg.EntryStatus.PENDING, "a pending job reloads")
        log.pump()
        check(log.get("shop", "S9").acked == 9, "and goes out after the reload")
    # The table is the C store's: one blob per key, decodable as is.
    db = sqlite3.connect(path)
    rows = db.execute("SELECT integration, sku, entry FROM stg_entry").fetchall()
    db.close()
    check(all(sg.decode(b).key == (i, s) for i, s, b in rows), "rows are (integration, sku, encode(entry))")


def sql_run(path, sql):
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


def corrupt_open(path, sql, exc_type, what):
    sql_run(path, sql)
    exc = raises(exc_type, lambda: open_log(path))
    check(exc is not None, "%s: %s" % (what, exc))
    sql_run(path, "DELETE FROM stg_entry WHERE sku = 'B'")


def test_bad_rows(tmp):
    path = os.path.join(tmp, "bad.db")
    store, log = open_log(path)
    with store, log:
        log.submit("shop", "A", 1, sequence=1)
        log.submit("shop", "B", 2, sequence=1)
    corrupt_open(path, "UPDATE stg_entry SET entry = CAST(substr(entry, 1, 20) || x'ff' || "
                 "substr(entry, 22) AS BLOB) WHERE sku = 'B'", sg.Corrupt, "a flipped byte")
    corrupt_open(path, "INSERT INTO stg_entry SELECT integration, 'B', substr(entry, 1, 10) "
                 "FROM stg_entry WHERE sku = 'A'", sg.Truncated, "a cut blob")
    corrupt_open(path, "INSERT INTO stg_entry SELECT integration, 'B', entry FROM stg_entry "
                 "WHERE sku = 'A'", sg.Corrupt, "an entry under another key")
    # An entry that decodes but that the log refuses (pending without a job):
    # the sink's verdict stops the load and comes back from Log().
    bad = sg.encode(sg.Entry("shop", "B", status=sg.EntryStatus.PENDING,
                             job_state=sg.JobState.NONE))
    db = sqlite3.connect(path)
    db.execute("INSERT INTO stg_entry VALUES ('shop', 'B', ?)", (bad,))
    db.commit()
    db.close()
    exc = raises(sg.StockguardError, lambda: open_log(path))
    check(exc is not None and exc.code == sg.Status.ECORRUPT,
          "the log's verdict on a refused entry: %r" % (exc,))
    db = sqlite3.connect(path)
    db.execute("DELETE FROM stg_entry WHERE sku = 'B'")
    db.commit()
    db.close()
    store, log = open_log(path)
    with store, log:
        check(len(list(log)) == 1, "fixed, it opens again")


def test_failing_write(tmp):
    path = os.path.join(tmp, "ro.db")
    store, log = open_log(path)
    with store, log:
        log.submit("shop", "A", 1, sequence=1)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        store.db.execute("PRAGMA busy_timeout=0")
        exc = raises(sqlite3.OperationalError, lambda: log.submit("shop", "A", 5, sequence=2))
        check(exc is not None and isinstance(exc.__cause__, sg.StorageError),
              "a failing write raises the hook's error, StorageError as its cause")
        check(log.get("shop", "A").available == 1, "and leaves the log as it was")
        other.execute("ROLLBACK")
        other.close()
        log.submit("shop", "A", 5, sequence=2)
        check(log.get("shop", "A").available == 5, "writes work again once the lock is gone")


class CountingStore(SQLiteStore):
    """Counts commits; fails the next ``fail_commits`` of them."""

    def __init__(self, path):
        super().__init__(path)
        self.commits = 0
        self.fail_commits = 0

    def commit(self):
        if self.fail_commits:
            self.fail_commits -= 1
            self.rollback()
            return False
        self.commits += 1
        return super().commit()


def test_transaction(tmp):
    path = os.path.join(tmp, "tx.db")
    store = CountingStore(path)
    log = sg.Log(storage=store)
    with store, log:
        log.submit_batch(sg.Submission("shop", "T%d" % i, i, sequence=1) for i in range(20))
        check(store.count() == 20 and store.commits == 1, "a batch of 20 is one commit")
        with log.transaction():
            for i in range(100):
                log.submit("shop", "W%d" % i, 50, sequence=1)
            check(log.in_transaction, "inside the block")
        check(store.count() == 120 and store.commits == 2, "100 single calls in one commit")
        store.fail_commits = 1
        exc = raises(sg.StorageError, lambda: _failing_block(log))
        check(exc is not None, "a failing commit raises StorageError")
        check(store.count() == 120, "the database has none of the block")
        check(log.get("shop", "W0").available == 50, "the log has undone the block too")
        check(raises(sg.NotFound, lambda: log.get("shop", "NEW")) is not None,
              "an entry the block created is gone")
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        store.db.execute("PRAGMA busy_timeout=0")
        exc = raises(sqlite3.OperationalError, lambda: log.submit_batch(
            [sg.Submission("shop", "B1", 1, sequence=1), sg.Submission("shop", "B2", 1, sequence=1)]))
        check(exc is not None and isinstance(exc.__cause__, sg.StorageError),
              "a begin that cannot lock fails the batch")
        check(raises(sg.NotFound, lambda: log.get("shop", "B1")) is not None, "and applies nothing")
        other.execute("ROLLBACK")
        other.close()


def _failing_block(log):
    with log.transaction():
        log.submit("shop", "W0", 1, sequence=2)
        log.submit("shop", "NEW", 7, sequence=1)


def integ_rows(path):
    db = sqlite3.connect(path)
    rows = db.execute("SELECT integration, flags, updated_at FROM stg_integration "
                      "ORDER BY integration").fetchall()
    db.close()
    return rows


def test_pause_survives(tmp):
    path = os.path.join(tmp, "pause.db")
    store, log = open_log(path)
    with store, log:
        log.submit("shop", "A", 5, sequence=1)
        log.pause("shop")
        check(log.is_paused("shop"), "paused")
    rows = integ_rows(path)
    check(len(rows) == 1 and rows[0][:2] == ("shop", 1) and rows[0][2] > 0,
          "stored as the C store stores it, (shop, 1, updated_at): %r" % (rows,))
    store, log = open_log(path)
    with store, log:
        check(log.is_paused("shop"), "the pause survives the reopen")
        check(log.pump() == 0, "and holds the job")
        log.resume("shop")
    check(integ_rows(path)[0][:2] == ("shop", 0), "a resume stores flags 0")
    # A row as sqlite_store.c writes it (flags 1; other bits are a newer
    # library's and the binding keeps only the pause).
    sql_run(path, "INSERT INTO stg_integration VALUES ('c-side', 2147483649, 7)")
    store, log = open_log(path)
    with store, log:
        check(not log.is_paused("shop"), "the resume survives the reopen")
        check(log.is_paused("c-side"), "a record C wrote pauses in Python")
        check(log.pump() == 1, "the resumed job goes out")


def test_failing_record(tmp):
    path = os.path.join(tmp, "rec.db")
    store, log = open_log(path)
    with store, log:
        log.submit("shop", "A", 5, sequence=1)
        sql_run(path, "CREATE TRIGGER no_pause BEFORE INSERT ON stg_integration "
                "BEGIN SELECT RAISE(ABORT, 'no pause here'); END")
        exc = raises(sqlite3.IntegrityError, lambda: log.pause("shop"))
        check(exc is not None and isinstance(exc.__cause__, sg.StorageError),
              "a failing record write raises the hook's error, StorageError as its cause: %r"
              % (exc,))
        check(not log.is_paused("shop") and integ_rows(path) == [], "and pauses nothing")
        check(log.pump() == 1, "the job still goes out")
    sql_run(path, "DROP TRIGGER no_pause")
    sql_run(path, "INSERT INTO stg_integration VALUES ('shop', 'x', 1)")
    exc = raises(sg.Corrupt, lambda: open_log(path))
    check(exc is not None, "a record row that is not numbers fails the open: %s" % exc)


def test_memory_refused():
    exc = raises(ValueError, lambda: SQLiteStore(":memory:"))
    check(exc is not None and "not wal" in str(exc), "':memory:' is refused: %s" % exc)


def main():
    c_demo = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(prefix="stg-sqlite-py-") as tmp:
        if c_demo:
            test_c_demo_database(tmp, os.path.abspath(c_demo))
        test_round_trip(tmp)
        test_bad_rows(tmp)
        test_failing_write(tmp)
        test_transaction(tmp)
        test_pause_survives(tmp)
        test_failing_record(tmp)
        test_memory_refused()
    print("1..%d" % len(checks))
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
