#!/usr/bin/env python3
"""A reference connector: a stock feed to three marketplaces over HTTP.

    STOCKGUARD_LIBRARY=build/lib/libstockguard.so.1 PYTHONPATH=bindings/python \\
        python3 examples/connector/connector.py --sim http://127.0.0.1:PORT \\
        --db stock.db --feed feed.csv

Python 3.9+, the standard library and the stockguard binding. One log on the
durable SQLite store (examples/sqlite-store/sqlite_store.py), one
integration per marketplace of examples/marketplace-sim/sim.py, each with
the transport its API shape asks for:

* mercadolivre (per-item PUT): reads the stock resource's versions ahead,
  50 waiting SKUs a call, and keeps them; a 409 drops it, so the log's immediate
  conflict retry reads it again; a 401 pauses the integration (the log does,
  by its auth rule) and the loop renews the token and resumes it; a 429 is
  reported with its Retry-After, and the quota headers go to the log, whose
  limit (--limit) stays below the marketplace's, for the version reads.
* carrefour (CSV import): every due job goes into one import; the jobs stay
  pending (``Result.pending()``) until the import's status, polled every 15
  simulated seconds, is COMPLETE; the error report's lines are completed
  with their message (the log's rules class Carrefour's "não foi
  catalogado" as not catalogued: held, retried slowly), the others as
  acknowledged. After an import the integration is paused until the next
  minute, so changes that arrive meanwhile coalesce into the next import.
* amazon (PATCH, accepted now, verdict later): an ACCEPTED job stays pending
  until a read-back shows its quantity (complete OK), shows nothing (not
  catalogued) or still differs a minute later (transient: sent again). A
  rolling audit reads back acknowledged SKUs and reports them to the log
  (``Log.observe``), which queues a correction where the marketplace
  drifted; before an --exit-when-idle exit, full passes run until one finds
  nothing to correct.

The loop sleeps until the log's next_due, the next feed row, the next poll
or read-back, whichever is first; prints progress every --progress seconds;
stops cleanly on SIGTERM or SIGINT (the log is flushed and closed, then the
store); with --exit-when-idle it ends once the feed is read and every entry
is acknowledged (or failed for good). The feed's position is kept in the
database after each batch, so a restart (even after SIGKILL) goes on where
the last committed batch ended; the rows after it are read again and are
stale or coalesced, never lost.

Against the simulator the log's clock is the simulator's (``GET /clock``),
so Retry-After, latencies and backoffs are in simulated time.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import signal
import socket
import sys
import time
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "sqlite-store"))
try:
    import stockguard as sg
except ImportError:  # run from the source tree without PYTHONPATH
    sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "bindings", "python"))
    import stockguard as sg
from sqlite_store import SQLiteStore  # noqa: E402

ML, CARREFOUR, AMAZON = "mercadolivre", "carrefour", "amazon"
TRANSIENT = sg.ErrorClass.TRANSIENT


# ---------------------------------------------------------------- clock, HTTP
class SimClock:
    """The simulator's clock, computed from the wall clock as sim.py does."""

    def __init__(self, real0: float, sim0_ms: int, speed: float) -> None:
        self.real0, self.sim0, self.speed = real0, sim0_ms, speed

    def now_ms(self) -> int:
        return self.sim0 + int((time.time() - self.real0) * self.speed * 1000)

    def __call__(self) -> int:
        return self.now_ms()


class HttpFailed(Exception):
    """No usable answer: reset, timeout, refused, or a body that is not JSON."""


class Http:
    """One keep-alive connection to one API, reopened after any failure."""

    def __init__(self, base: str, timeout: float, calls: Dict[str, int]) -> None:
        u = urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn: Optional[http.client.HTTPConnection] = None
        self.calls = calls

    def call(self, method: str, path: str, body: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
        self.calls[method] = self.calls.get(method, 0) + 1
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.connect()
                # http.client writes headers and body apart: NODELAY spares
                # the 40 ms of Nagle against a delayed ACK on every request.
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            status = r.status
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise HttpFailed("%s %s: %s" % (method, path.split("?")[0], exc or type(exc).__name__))
        if status == 429:
            self.calls["429"] = self.calls.get("429", 0) + 1
        return status, hdrs, data

    def json(self, method: str, path: str, obj: Any = None,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], Any]:
        body = None if obj is None else json.dumps(obj).encode()
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        status, hdrs, data = self.call(method, path, body, h)
        try:
            return status, hdrs, json.loads(data) if data else None
        except ValueError:
            self.close()  # the stream may be out of step too
            raise HttpFailed("%s %s: %d with a body that is not JSON" % (method, path.split("?")[0], status))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def retry_after_ms(hdrs: Dict[str, str]) -> int:
    """Retry-After in (simulated) ms; 0 when absent or not a number of seconds."""
    try:
        return max(0, int(hdrs.get("retry-after", ""))) * 1000
    except ValueError:
        return 0


def failed(status: int, message: str) -> sg.Result:
    """A failure without a usable verdict: 5xx, no answer, a garbled one."""
    return sg.Result.error(status, message[:500], error_class=TRANSIENT)


# ---------------------------------------------------------------- the store
class ConnectorStore(SQLiteStore):
    """The SQLite store, plus the feed position and group commits.

    ``group()`` makes many single-entry calls (the completions of an import,
    a read-back round) one SQLite transaction, where each would otherwise be
    a commit and an fsync of its own: the log's own transactions inside it
    become savepoints. A crash before the group's COMMIT loses only the
    acknowledgements of the group; their jobs are pending again after the
    restart and are sent again (at-least-once, as for any job in flight).
    The binding has no batch complete; this is the workaround.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.grouped = False
        self.db.execute("CREATE TABLE IF NOT EXISTS connector_feed (id INTEGER PRIMARY KEY CHECK (id = 1),"
                        " path TEXT, offset INTEGER, row INTEGER, sim_t0 INTEGER, feed_t0 INTEGER)")

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        self.grouped = True
        try:
            yield
        except BaseException:
            self.grouped = False
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.grouped = False
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def begin(self) -> None:
        if not self.grouped:
            return super().begin()
        self.db.execute("SAVEPOINT stg")
        self._txn, self._lost = True, False

    def commit(self) -> bool:
        if not self.grouped:
            return super().commit()
        self._txn = False
        if self._lost or not self.db.in_transaction:
            return False
        self.db.execute("RELEASE stg")
        return True

    def rollback(self) -> None:
        if not self.grouped:
            return super().rollback()
        self._txn = False
        if self.db.in_transaction:
            self.db.execute("ROLLBACK TO stg")
            self.db.execute("RELEASE stg")

    def feed_position(self) -> Optional[Tuple[str, int, int, int, int]]:
        return self.db.execute("SELECT path, offset, row, sim_t0, feed_t0 FROM connector_feed").fetchone()

    def save_feed_position(self, path: str, offset: int, row: int, sim_t0: int, feed_t0: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO connector_feed VALUES (1, ?, ?, ?, ?, ?)",
                        (path, offset, row, sim_t0, feed_t0))


# ---------------------------------------------------------------- marketplaces
class Integration:
    """What every marketplace transport has: counters and a wake-up time."""

    name = ""

    def __init__(self, base: str, a: argparse.Namespace, clock: SimClock) -> None:
        self.calls: Dict[str, int] = {}
        self.http = Http(base, a.http_timeout, self.calls)
        self.a, self.clock = a, clock
        self.acks = 0
        self.renewals = 0

    def wake_ms(self) -> Optional[int]:
        """When tick() has work next (simulated ms), None: nothing planned."""
        return None

    def idle(self) -> bool:
        return True

    def tick(self, log: sg.Log, store: ConnectorStore) -> None:
        pass


class MercadoLivre(Integration):
    name = ML

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.token: Optional[str] = None
        self.versions: Dict[str, int] = {}
        self.renew_at = 0
        self.prefetch_at = 0

    def renew(self) -> bool:
        try:
            status, _, obj = self.http.json("POST", "/ml/oauth/token", {"client_id": "stockguard"})
        except HttpFailed:
            return False
        if status != 200 or not isinstance(obj, dict) or "access_token" not in obj:
            return False
        self.token = obj["access_token"]
        self.renewals += 1
        return True

    def auth(self) -> Dict[str, str]:
        return {"Authorization": "Bearer %s" % self.token}

    def read_versions(self, skus: List[str]) -> Optional[sg.Result]:
        """Fill ``versions`` for ``skus``; a Result for every job when it failed."""
        for i in range(0, len(skus), 50):
            chunk = skus[i:i + 50]
            try:
                status, hdrs, obj = self.http.json(
                    "GET", "/ml/stock?skus=" + ",".join(quote(s, safe="") for s in chunk),
                    headers=self.auth())
            except HttpFailed as exc:
                return failed(0, str(exc))
            if status != 200:
                return self.refusal(status, hdrs, obj)
            for r in (obj or {}).get("results", []):
                if "version" in r:
                    self.versions[r["sku"]] = int(r["version"])
        return None

    def refusal(self, status: int, hdrs: Dict[str, str], obj: Any) -> sg.Result:
        # The log classifies the status and message: its built-in rules know
        # '"status":401' (auth), 409 (conflict), "não encontrado" (not catalogued).
        message = json.dumps(obj) if obj is not None else ""
        if status >= 500:
            return failed(status, message)
        if status == 429:
            return sg.Result.error(429, message, retry_after_ms=retry_after_ms(hdrs))
        return sg.Result.error(status, message)

    def send_batch(self, jobs: List[sg.Job]) -> List[sg.Result]:
        if self.token is None and not self.renew():
            return [failed(0, "no access token: the token endpoint did not answer")] * len(jobs)
        missing = [j.sku for j in jobs if j.sku not in self.versions]
        bad = self.read_versions(missing) if missing else None
        if bad is not None:
            return [bad] * len(jobs)
        out: List[sg.Result] = []
        for n, job in enumerate(jobs):
            if job.sku not in self.versions:  # the read found no such item
                out.append(sg.Result.error(404, "Item não encontrado"))
                continue
            headers = dict(self.auth(), **{"x-version": str(self.versions[job.sku])})
            try:
                status, hdrs, obj = self.http.json("PUT", "/ml/items/%s/stock" % quote(job.sku, safe=""),
                                                   {"quantity": job.published}, headers)
            except HttpFailed as exc:
                self.versions.pop(job.sku, None)  # it may have been applied: read it again
                out.append(failed(0, str(exc)))
                continue
            if status == 200:
                self.versions[job.sku] = int(hdrs.get("x-version") or obj["version"])
                self.acks += 1
                # The announced limit caps the log's rate. The remaining count
                # is not passed: it is the bucket after this one call, and
                # pinning the log's tokens to it starves the bucket's refill.
                out.append(sg.Result.ok(200, quota_limit=int(hdrs.get("x-ratelimit-limit", 0)),
                                        quota_window_ms=1000))
                continue
            if status == 409 or status >= 500:
                self.versions.pop(job.sku, None)
            r = self.refusal(status, hdrs, obj)
            out.append(r)
            if status in (401, 429):
                # The token is dead or the bucket empty for the whole
                # application: the rest of the batch would get the same.
                out.extend([r] * (len(jobs) - n - 1))
                break
        return out

    def tick(self, log: sg.Log, store: ConnectorStore) -> None:
        now = self.clock.now_ms()
        # The log paused the integration on a 401 (auth); renew and resume.
        if log.is_paused(ML):
            if now >= self.renew_at:
                if self.renew():
                    log.resume(ML)
                else:
                    self.renew_at = now + 5000
            return
        if now >= self.prefetch_at and self.token is not None:
            # Read the versions of waiting SKUs 50 a call, ahead of their
            # PUTs: one version read per PUT would take half the bucket.
            skus = []
            for e in log.query(ML, status=sg.EntryStatus.PENDING):
                if e.sku not in self.versions:
                    skus.append(e.sku)
                    if len(skus) == 50:
                        break
            if skus:
                self.read_versions(skus)
            # Every 2 s while a backlog lacks versions (a tenth of the
            # bucket), else now and then: the scan costs too.
            self.prefetch_at = now + (2000 if len(skus) == 50 else 10000)

    def wake_ms(self) -> Optional[int]:
        return self.renew_at if self.renew_at > self.clock.now_ms() else None


class Amazon(Integration):
    name = AMAZON

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # job id -> [sku, published, accepted at, next read-back]
        self.waiting: Dict[int, List[Any]] = {}
        self.audit_list: List[str] = []
        self.audit_pos = 0
        self.audit_at = 0
        self.full = self.full_done = False  # a full pass runs / has run since the last start
        self.full_found = 0                 # corrections the pass queued
        self.observed: Dict[str, int] = {}

    def send_batch(self, jobs: List[sg.Job]) -> List[sg.Result]:
        out = []
        for job in jobs:
            try:
                status, hdrs, obj = self.http.json("PATCH", "/amazon/listings/%s" % quote(job.sku, safe=""),
                                                   {"quantity": job.published})
            except HttpFailed as exc:
                out.append(failed(0, str(exc)))
                continue
            if status == 200 and isinstance(obj, dict) and obj.get("status") == "ACCEPTED":
                now = self.clock.now_ms()
                self.waiting[job.id] = [job.sku, job.published, now, now + self.a.verdict_after * 1000]
                out.append(sg.Result.pending())
            elif status == 200 or status >= 500:
                out.append(failed(status, json.dumps(obj)))
            else:
                out.append(sg.Result.error(status, json.dumps(obj)))
        return out

    def read(self, skus: List[str]) -> Optional[Tuple[Dict[str, int], set]]:
        """What shows for up to 20 SKUs: ({sku: quantity}, {missing}), None on failure."""
        try:
            status, _, obj = self.http.json("GET", "/amazon/listings?skus=" +
                                            ",".join(quote(s, safe="") for s in skus))
        except HttpFailed:
            return None
        if status != 200 or not isinstance(obj, dict):
            return None
        return {i["sku"]: int(i["quantity"]) for i in obj.get("items", [])}, set(obj.get("missing", []))

    def idle(self) -> bool:
        return not self.waiting and not self.full

    def wake_ms(self) -> Optional[int]:
        times = [w[3] for w in self.waiting.values()]
        if self.full:
            times.append(self.audit_at)
        return min(times) if times else None

    def tick(self, log: sg.Log, store: ConnectorStore) -> None:
        now = self.clock.now_ms()
        # A round when the first is due takes those due within half a delay
        # too: fewer, fuller read-backs.
        if not any(w[3] <= now for w in self.waiting.values()):
            due = []
        else:
            ahead = now + self.a.verdict_after * 500
            due = [jid for jid, w in self.waiting.items() if w[3] <= ahead]
        for i in range(0, len(due), 20):
            ids = due[i:i + 20]
            seen = self.read([self.waiting[j][0] for j in ids])
            if seen is None:
                for j in ids:
                    self.waiting[j][3] = now + 5000
                continue
            shown, missing = seen
            with store.group():
                for j in ids:
                    sku, published, accepted, _ = self.waiting[j]
                    if shown.get(sku) == published:
                        result = sg.Result.ok()
                        self.acks += 1
                    elif sku in missing:
                        result = sg.Result.error(404, "SKU does not exist")  # rules: not catalogued
                    elif now - accepted < self.a.verdict_max * 1000:
                        self.waiting[j][3] = now + self.a.verdict_after * 1000
                        continue  # not processed yet
                    else:
                        result = failed(0, "accepted, but shows %s after %d s"
                                        % (shown.get(sku), (now - accepted) // 1000))
                    del self.waiting[j]
                    complete(log, j, result)
        # Audit reads are paced (they take from the bucket the PATCHes use):
        # one every --audit-every s, one a second during a full pass.
        if (self.full or self.a.audit_every) and now >= self.audit_at:
            self.audit_step(log, store)
            self.audit_at = now + (1000 if self.full else int(self.a.audit_every * 1000))

    def start_full_audit(self, log: sg.Log) -> None:
        """Begin a pass over every acknowledged SKU, a read a second."""
        self.full, self.full_done, self.full_found = True, False, 0
        self.audit_list, self.audit_pos, self.audit_at = [], 0, 0

    def audit_step(self, log: sg.Log, store: ConnectorStore) -> None:
        """Read back the next 20 SKUs of the pass and report them to the log
        (``Log.observe``: a difference queues a correction). A pass walks a
        snapshot of the acknowledged SKUs; a failed read is tried again."""
        if self.audit_pos >= len(self.audit_list):
            if self.full and self.audit_list:
                self.full, self.full_done = False, True
                return
            self.audit_list = [e.sku for e in log.query(AMAZON, status=sg.EntryStatus.SUCCESS)]
            self.audit_pos = 0
            if not self.audit_list:
                self.full_done = self.full or self.full_done
                self.full = False
                return
        chunk = self.audit_list[self.audit_pos:self.audit_pos + 20]
        at = self.clock.now_ms()
        seen = self.read(chunk)
        if seen is None:
            return  # the same chunk at the next step
        self.audit_pos += len(chunk)
        shown, missing = seen
        with store.group():
            for sku in chunk:
                try:
                    outcome = log.observe(AMAZON, sku, None if sku in missing else shown.get(sku),
                                          observed_at=at)
                except sg.NotFound:
                    continue  # removed since the snapshot
                self.observed[outcome] = self.observed.get(outcome, 0) + 1
                if outcome in ("corrected", "not_catalogued"):
                    self.full_found += 1


class Carrefour(Integration):
    name = CARREFOUR

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.imports: Dict[int, Dict[str, Any]] = {}
        self.outbox: List[sg.Job] = []
        self.next_import = 0      # simulated ms: one import a minute
        self.we_paused = False
        self.started = False
        self.sizes: List[int] = []
        self.times: List[int] = []  # when each import went (simulated ms)

    def send_batch(self, jobs: List[sg.Job]) -> List[sg.Result]:
        # The pump hands jobs out by priority, a batch per priority: they
        # wait here and go as one import after the pump (tick()).
        self.outbox.extend(jobs)
        return [sg.Result.pending()] * len(jobs)

    def send_import(self, log: sg.Log, store: ConnectorStore, now: int) -> None:
        jobs, self.outbox = self.outbox, []
        body = "offer-sku;quantity\n" + "".join("%s;%d\n" % (j.sku, j.published) for j in jobs)
        # Whatever the answer, the marketplace may count this import.
        self.next_import = now + 60000 + 200
        result = None
        try:
            status, hdrs, data = self.http.call("POST", "/mirakl/offers/imports", body.encode(),
                                                {"Content-Type": "text/csv"})
            obj = json.loads(data) if status == 201 else None
        except (HttpFailed, ValueError) as exc:
            result = failed(0, str(exc))
        else:
            if status == 429:
                self.next_import = now + max(retry_after_ms(hdrs), 1000) + 200
                result = sg.Result.error(429, data.decode("utf-8", "replace"),
                                         retry_after_ms=retry_after_ms(hdrs))
            elif status != 201 or not isinstance(obj, dict) or "import_id" not in obj:
                result = failed(status, data.decode("utf-8", "replace"))
        if result is not None:
            with store.group():
                for j in jobs:
                    complete(log, j.id, result)
            return
        self.imports[int(obj["import_id"])] = {"jobs": [(j.id, j.sku) for j in jobs],
                                               "poll_at": now + 15000 + 100}
        self.sizes.append(len(jobs))
        self.times.append(now)

    def idle(self) -> bool:
        return not self.imports and not self.outbox

    def wake_ms(self) -> Optional[int]:
        times = [i["poll_at"] for i in self.imports.values()]
        if self.we_paused:
            times.append(self.next_import)
        return min(times) if times else None

    def tick(self, log: sg.Log, store: ConnectorStore) -> None:
        now = self.clock.now_ms()
        if not self.started:
            # The log stores a manual pause: one found at start is the
            # import-window pause of a run that stopped (or was killed)
            # before it resumed. Its window has passed: resume below.
            self.started = True
            self.we_paused = log.is_paused(CARREFOUR)
        if self.outbox:
            self.send_import(log, store, now)
        if now < self.next_import and not self.we_paused and not log.is_paused(CARREFOUR):
            log.pause(CARREFOUR)  # changes coalesce until the next import may go
            self.we_paused = True
        elif now >= self.next_import and self.we_paused:
            log.resume(CARREFOUR)
            self.we_paused = False
        for iid, imp in list(self.imports.items()):
            if imp["poll_at"] <= now:
                self.poll(log, store, iid, imp, now)

    def poll(self, log: sg.Log, store: ConnectorStore, iid: int, imp: Dict[str, Any], now: int) -> None:
        try:
            status, hdrs, obj = self.http.json("GET", "/mirakl/offers/imports/%d" % iid)
            if status == 429:
                imp["poll_at"] = now + max(retry_after_ms(hdrs), 1000) + 100
                return
            if status == 404:
                obj = {"status": "LOST"}
            elif status != 200 or not isinstance(obj, dict):
                raise HttpFailed("import %d: status %d" % (iid, status))
            if obj.get("status") not in ("COMPLETE", "LOST"):
                imp["poll_at"] = now + 15000 + 100
                return
            errors: Dict[str, str] = {}
            if obj.get("lines_in_error"):
                st, _, data = self.http.call("GET", "/mirakl/offers/imports/%d/error_report" % iid)
                lines = data.decode("utf-8", "replace").splitlines()
                # A report that is not one (a garbled body) must not read as
                # "no errors": that would acknowledge the lines in error.
                if st != 200 or not lines or not lines[0].startswith("offer-sku;"):
                    raise HttpFailed("import %d: error report: status %d, not a report" % (iid, st))
                for row in csv.reader(lines[1:], delimiter=";"):
                    if len(row) >= 3:
                        errors[row[0]] = row[2]
                if len(errors) != int(obj["lines_in_error"]):
                    raise HttpFailed("import %d: error report has %d lines, the status says %s"
                                     % (iid, len(errors), obj["lines_in_error"]))
        except HttpFailed:
            imp["poll_at"] = now + 15000 + 100
            return
        del self.imports[iid]
        with store.group():
            for jid, sku in imp["jobs"]:
                if obj["status"] == "LOST":
                    result = failed(404, "import %d is unknown to the marketplace" % iid)
                elif sku in errors:
                    result = sg.Result.error(400, errors[sku])  # rules: "não foi catalogado"
                else:
                    result = sg.Result.ok()
                    self.acks += 1
                complete(log, jid, result)


def complete(log: sg.Log, job_id: int, result: sg.Result) -> None:
    try:
        log.complete(job_id, result)
    except sg.NotFound:
        pass  # the entry was removed, or the job completed already (after a restart)


class Transport:
    """The log's one transport: each batch goes to its marketplace."""

    def __init__(self, markets: Dict[str, Integration]) -> None:
        self.markets = markets

    def send(self, job: sg.Job) -> sg.Result:
        return self.send_batch([job])[0]

    def send_batch(self, jobs: List[sg.Job]) -> List[sg.Result]:
        by: Dict[str, List[int]] = {}
        for i, j in enumerate(jobs):
            by.setdefault(j.integration, []).append(i)
        out: List[Optional[sg.Result]] = [None] * len(jobs)
        for name, idx in by.items():
            m = self.markets.get(name)
            if m is None:
                res = [sg.Result.error(0, "no marketplace %r" % name, error_class="rejected")] * len(idx)
            else:
                try:
                    res = m.send_batch([jobs[i] for i in idx])
                except Exception as exc:  # an answer of a shape not foreseen
                    # Raising would fail the whole pump (every integration);
                    # these jobs go again instead (sends are idempotent).
                    res = [failed(0, "%s: %r" % (name, exc))] * len(idx)
            for i, r in zip(idx, res):
                out[i] = r
        return out  # type: ignore[return-value]


# ---------------------------------------------------------------- the feed
def feed_time(text: str) -> int:
    """A feed time (seconds since the epoch or ISO 8601) in ms."""
    if text.isdigit():
        return int(text) * 1000
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Feed:
    """The feed, read as its rows fall due on the clock; its position is kept
    in the store after every batch."""

    def __init__(self, path: str, store: ConnectorStore, clock: SimClock, scale: float) -> None:
        self.path, self.store, self.clock, self.scale = path, store, clock, scale
        self.f = sys.stdin.buffer if path == "-" else open(path, "rb")
        self.row = 0
        self.sim_t0: Optional[int] = None
        self.feed_t0: Optional[int] = None
        pos = store.feed_position() if path != "-" else None
        if pos and pos[0] == os.path.abspath(path):
            _, offset, self.row, self.sim_t0, self.feed_t0 = pos
            self.f.seek(offset)
        else:
            self.f.readline()  # the header
        self.pending: Optional[Tuple[int, str, str, int, bool, int]] = None
        self.done = False

    def _next(self) -> Optional[Tuple[int, str, str, int, bool, int]]:
        if self.pending is None and not self.done:
            offset = self.f.tell() if self.path != "-" else 0
            line = self.f.readline()
            if not line:
                self.done = True
                return None
            row = next(csv.reader([line.decode("utf-8")]))
            t = feed_time(row[0])
            if self.feed_t0 is None:
                self.feed_t0, self.sim_t0 = t, self.clock.now_ms()
            self.row += 1
            due = self.sim_t0 + int((t - self.feed_t0) * self.scale)
            self.pending = (due, row[1], row[2], int(row[3]), "price" in row[4:5], offset)
        return self.pending

    def due_at(self) -> Optional[int]:
        p = self._next()
        return p[0] if p else None

    def take(self, now: int, most: int) -> List[sg.Submission]:
        out = []
        while len(out) < most:
            p = self._next()
            if p is None or p[0] > now:
                break
            due, integration, sku, available, non_stock, _ = p
            # The row number is the sequence: rising per SKU, the same after
            # a restart, so rows read twice are stale, never applied twice.
            out.append(sg.Submission(integration, sku, available, sequence=self.row,
                                     changed_at=due, non_stock=non_stock))
            self.pending = None
        return out

    def save(self) -> None:
        if self.path != "-" and self.feed_t0 is not None:
            # The next unread row: a row in hand (read, not yet due) is read
            # again after a restart.
            offset, row = self.f.tell(), self.row
            if self.pending is not None:
                offset, row = self.pending[5], self.row - 1
            self.store.save_feed_position(os.path.abspath(self.path), offset, row,
                                          self.sim_t0, self.feed_t0)


# ---------------------------------------------------------------- the loop
class Connector:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.stop = False
        self.clock = self.sim_clock(a.sim)
        self.markets: Dict[str, Integration] = {
            ML: MercadoLivre(a.sim, a, self.clock),
            CARREFOUR: Carrefour(a.sim, a, self.clock),
            AMAZON: Amazon(a.sim, a, self.clock)}
        self.late: List[Dict[str, Any]] = []
        self.auth_paused: set = set()
        self.changes_in = 0
        self.store = ConnectorStore(a.db)
        self.log = sg.Log(storage=self.store, transport=Transport(self.markets), clock=self.clock,
                          events=self.on_event, latency_limit_ms=int(a.latency_limit * 1000),
                          backoff_base_ms=1000, backoff_max_ms=60000,
                          catalogue_retry_ms=int(a.catalogue_retry * 1000),
                          max_transient_attempts=a.attempts)
        for name in self.markets:
            mins, window = a.policy.get(name, (0, None))
            with sg.Policy(min_stock=mins) as p:
                if window is not None:
                    p.window = window
                self.log.set_policy(name, p)
        # Per-item APIs send a few jobs per Python call; an import takes them all.
        # Below the marketplaces' 5/s and 10/s: the version reads and
        # read-backs take from the same bucket, and the log's bucket starts full.
        self.log.set_limits(ML, 10, *a.limit.get(ML, (4, 1000)))  # + 0.5/s of version reads
        self.log.set_limits(AMAZON, 10, *a.limit.get(AMAZON, (8, 1000)))
        self.log.set_limits(CARREFOUR, 10000)
        self.feed = Feed(a.feed, self.store, self.clock, a.feed_scale)
        self.started = time.time()

    @staticmethod
    def sim_clock(base: str) -> SimClock:
        h = Http(base, 5.0, {})
        for _ in range(50):
            try:
                status, _, c = h.json("GET", "/clock")
                if status == 200:
                    return SimClock(float(c["real0"]), int(c["sim0_ms"]), float(c["speed"]))
            except HttpFailed:
                pass
            time.sleep(0.1)
        raise SystemExit("connector.py: the simulator at %s does not answer /clock" % base)

    def on_event(self, ev: sg.Event) -> None:
        if ev.type == sg.EventType.INTEGRATION_PAUSED and ev.http_status:
            self.auth_paused.add(ev.integration)  # by a failure, not by the import window
        if ev.type == sg.EventType.ABNORMAL_LATENCY:
            self.late.append({"integration": ev.integration, "sku": ev.sku,
                              "latency_ms": ev.latency_ms, "at": ev.time})

    def read_feed(self) -> None:
        while True:
            changes = self.feed.take(self.clock.now_ms(), 5000)
            if not changes:
                return
            self.log.submit_batch(changes)  # one commit
            self.changes_in += len(changes)
            self.feed.save()

    def idle(self) -> bool:
        if not self.feed.done or not all(m.idle() for m in self.markets.values()):
            return False
        c = self.log.counts()
        return c.pending == 0

    def step(self) -> float:
        """One round; returns how long to sleep (real seconds)."""
        self.read_feed()
        sent = self.log.pump()
        for m in self.markets.values():
            m.tick(self.log, self.store)
        now = self.clock.now_ms()
        if now >= getattr(self, "reprocess_at", 0):
            # Transient failures that used up their attempts (a long outage,
            # a 5xx burst) and conflicts: try again, every few minutes.
            for cls in (sg.ErrorClass.TRANSIENT, sg.ErrorClass.CONFLICT):
                self.log.reprocess_matching(status=sg.EntryStatus.ERROR, error_class=cls)
            self.reprocess_at = now + int(self.a.reprocess_every * 1000)
        waits = [self.log.next_due(), self.feed.due_at()]
        waits += [m.wake_ms() for m in self.markets.values()]
        soonest = [w - now if i > 0 else w for i, w in enumerate(waits) if w is not None]
        if not soonest:
            return 0.2
        wait_ms = max(0, min(soonest))
        real = wait_ms / self.clock.speed / 1000.0
        return min(0.2, max(real, 0.0 if sent else 0.002))

    def progress(self) -> str:
        s = self.log.stats()
        calls = sum(sum(v for k, v in m.calls.items() if k != "429") for m in self.markets.values())
        r429 = sum(m.calls.get("429", 0) for m in self.markets.values())
        errs = ", ".join("%s %d" % (k.name.lower(), v) for k, v in s.errors.items() if v)
        return ("t+%.0fs changes in %d, jobs sent %d, acked %d, calls %d, 429s %d, errors: %s, late %d"
                % (time.time() - self.started, self.changes_in, s.attempts, s.successes, calls, r429,
                   errs or "none", len(self.late)))

    def run(self) -> int:
        next_progress = time.time() + self.a.progress
        while not self.stop:
            wait = self.step()
            if time.time() >= next_progress:
                print(self.progress(), flush=True)
                next_progress = time.time() + self.a.progress
            if self.a.exit_when_idle and self.idle():
                # Before leaving: a full read-back of Amazon that finds
                # nothing to correct (a pass that did is followed by another,
                # once its corrections are acknowledged).
                amazon = self.markets[AMAZON]
                if amazon.full_done and amazon.full_found == 0:
                    break
                amazon.start_full_audit(self.log)
            if self.a.max_runtime and time.time() - self.started > self.a.max_runtime:
                print("connector.py: --max-runtime reached", file=sys.stderr)
                break
            if wait > 0:
                time.sleep(wait)
        return self.finish()

    def summary(self) -> Dict[str, Any]:
        s = self.log.stats()
        out: Dict[str, Any] = {"changes_in": self.changes_in, "feed_rows": self.feed.row,
                               "late_events": self.late, "paused": sorted(self.auth_paused),
                               "integrations": {}}
        for name, m in self.markets.items():
            st, c = self.log.stats(name), self.log.counts(name)
            out["integrations"][name] = {
                "calls": m.calls, "acks": m.acks, "renewals": m.renewals,
                "attempts": st.attempts, "successes": st.successes, "exports": st.exports,
                "coalesced": st.coalesced, "stale": st.stale, "corrections": st.corrections,
                "abnormal": st.abnormal, "cooldowns": st.cooldowns,
                "errors": {k.name.lower(): v for k, v in st.errors.items() if v},
                "counts": {"pending": c.pending, "success": c.success, "error": c.error,
                           "held": c.held, "late": c.late}}
        out["integrations"][CARREFOUR]["import_sizes"] = self.markets[CARREFOUR].sizes
        out["integrations"][CARREFOUR]["import_times"] = self.markets[CARREFOUR].times
        out["integrations"][AMAZON]["observed"] = self.markets[AMAZON].observed
        out["changes"] = s.changes
        return out

    def finish(self) -> int:
        try:
            self.log.flush()
        finally:
            summary = self.summary()
            line = self.progress()
            self.log.close()   # first the log,
            self.store.close()  # then its store
        print("summary: " + line)
        for name, i in summary["integrations"].items():
            print("  %-12s calls %s, acks %d, entries %s, errors %s" % (
                name, json.dumps(i["calls"], sort_keys=True), i["acks"],
                json.dumps(i["counts"], sort_keys=True), json.dumps(i["errors"], sort_keys=True)))
        if self.a.summary:
            with open(self.a.summary + ".tmp", "w") as f:
                json.dump(summary, f)
            os.replace(self.a.summary + ".tmp", self.a.summary)
        return 0


def pairs(values: List[str], what: str, parse: Any) -> Dict[str, Any]:
    out = {}
    for v in values:
        name, _, rest = v.partition("=")
        try:
            out[name] = parse(rest)
        except ValueError:
            raise SystemExit("connector.py: %s %r: bad value" % (what, v))
    return out


def parse_args(argv: List[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", required=True, help="the simulator's base URL, http://127.0.0.1:PORT")
    ap.add_argument("--db", required=True, help="the SQLite database of the log")
    ap.add_argument("--feed", default="-", help="CSV feed (examples/gen-feed.py); - for stdin")
    ap.add_argument("--feed-scale", type=float, default=1.0,
                    help="simulated seconds per second of feed time (default 1)")
    ap.add_argument("--policy", action="append", default=[],
                    help="INTEGRATION=MIN_STOCK[,WINDOW] (repeatable)")
    ap.add_argument("--limit", action="append", default=[],
                    help="INTEGRATION=JOBS/MS: the log's rate ceiling (default mercadolivre=4/1000, amazon=8/1000)")
    ap.add_argument("--latency-limit", type=float, default=600.0, help="late above this, simulated s")
    ap.add_argument("--catalogue-retry", type=float, default=300.0,
                    help="retry of not-catalogued SKUs, simulated s")
    ap.add_argument("--attempts", type=int, default=6, help="attempts against transient failures")
    ap.add_argument("--reprocess-every", type=float, default=120.0,
                    help="reprocess transient errors every this many simulated s")
    ap.add_argument("--verdict-after", type=float, default=15.0, help="Amazon read-back delay, s")
    ap.add_argument("--verdict-max", type=float, default=60.0, help="Amazon: not shown by then is a failure")
    ap.add_argument("--audit-every", type=float, default=3.0,
                    help="Amazon audit: one read-back of 20 SKUs every this many simulated s (0: off)")
    ap.add_argument("--http-timeout", type=float, default=2.0, help="real seconds")
    ap.add_argument("--progress", type=float, default=5.0, help="progress line every this many real s")
    ap.add_argument("--summary", help="write the summary here as JSON")
    ap.add_argument("--exit-when-idle", action="store_true",
                    help="stop once the feed is read and every entry acknowledged or failed")
    ap.add_argument("--max-runtime", type=float, default=0, help="stop after this many real s")
    a = ap.parse_args(argv)

    def policy(text: str) -> Tuple[int, Optional[int]]:
        m, _, w = text.partition(",")
        return int(m), (int(w) if w else None)

    def limit(text: str) -> Tuple[int, int]:
        j, _, ms = text.partition("/")
        return int(j), int(ms)

    a.policy = pairs(a.policy, "--policy", policy)
    a.limit = pairs(a.limit, "--limit", limit)
    return a


def main(argv: List[str]) -> int:
    a = parse_args(argv)
    c = Connector(a)

    def stop(*_: Any) -> None:
        c.stop = True  # the loop ends its round, then flushes and closes
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return c.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
