#!/usr/bin/env python3
"""A marketplace simulator over real HTTP (Python 3.9+, standard library only).

    python3 examples/marketplace-sim/sim.py --catalogue feed.csv --speed 20 --port-file port

One server on 127.0.0.1 (an ephemeral port unless --port is given; the port
is printed on stdout as "listening on 127.0.0.1:PORT" and written to
--port-file) that plays three marketplaces, each with the API shape of a
real one, and keeps the truth of what each SKU shows on each:

* mercadolivre, per-item synchronous (Mercado Livre's shape):
  ``GET /ml/items/SKU/stock`` gives the quantity and the stock resource's
  version (also in ``x-version``); ``GET /ml/stock?skus=A,B`` reads up to
  50 at once; ``PUT /ml/items/SKU/stock`` with ``x-version`` and a bearer
  token sets the quantity. Every request takes a token from the
  application's bucket (--ml-rate per simulated second); an empty bucket
  answers 429, with ``Retry-After`` on a share of them (--retry-after-share).
  The access token (``POST /ml/oauth/token``) expires after --token-ttl
  simulated seconds, or at once by ``POST /admin/expire-token``; until it is
  renewed every call answers 401. A stale ``x-version`` answers 409; another
  writer (the marketplace's own order flow) bumps a SKU's version on a share
  of the PUTs (--foreign-writes), so 409s happen without chaos.
* carrefour, asynchronous import (Mirakl's STO01/STO02, Carrefour Brazil):
  ``POST /mirakl/offers/imports`` (a CSV of ``offer-sku;quantity`` lines)
  gives an import id; more than one import a simulated minute answers 429
  with ``Retry-After``. ``GET /mirakl/offers/imports/ID`` gives its status, at
  most once every 15 simulated seconds per import (sooner: 429 with
  ``Retry-After``); it ends COMPLETE after --import-delay simulated seconds,
  and ``GET .../ID/error_report`` lists the lines in error. A product not
  yet catalogued is in error with Carrefour's "Produto ainda não foi
  catalogado" message; --uncatalogued of the SKUs start so and are
  catalogued at a random time within --catalogue-within simulated seconds.
* amazon, accepted now, verdict later (the listings PATCH shape):
  ``PATCH /amazon/listings/SKU`` always answers 200 ACCEPTED, even for a SKU
  that does not exist; the quantity shows after --amazon-delay simulated
  seconds, if the SKU exists then. ``GET /amazon/listings/SKU`` (or up to 20
  at once with ``GET /amazon/listings?skus=A,B``) reads what shows, 404 for
  a SKU that does not exist. The same late catalogue applies. --drift N
  makes the marketplace change N shown quantities by itself (a
  reconciliation on its side) within the first --drift-until seconds, which
  only a read-back can find.

**The simulated clock** runs --speed times faster than real time: simulated
ms = --start (ms since the epoch) + (wall time - wall time at start) x speed.
``GET /clock`` gives the three numbers, so a client computes the same time
from its own wall clock without asking again (both read the one system
clock). Every rate, delay and Retry-After above is in simulated time.

**Chaos** (``--chaos reset=0.02,slow=0.05`` or ``POST /admin/chaos`` with a
JSON object; values are probabilities per request of the marketplace APIs):
``reset`` closes the connection without an answer (RST), ``timeout`` keeps
it silent for --hang seconds of real time then closes it, ``slow`` answers
after --slow real seconds, ``malformed`` answers 200 with a body that is not
JSON, ``burst5xx`` starts a burst of the next --burst-len requests
answering 500, 502 or 503. A write that meets ``timeout`` or ``malformed``
is applied first (the connector cannot know whether it was), one that meets
``reset`` or a 5xx is not.

**Admin** (never subject to chaos): ``GET /admin/truth`` (what each SKU
shows on each marketplace: a quantity, or null when not listed),
``GET /admin/counters`` (requests per marketplace and status, chaos
applied, imports), ``GET|POST /admin/chaos``, ``POST /admin/expire-token``,
``GET /admin/writes`` (every applied write: marketplace, SKU, quantity,
simulated time).
"""
from __future__ import annotations

import argparse
import csv
import heapq
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

NOT_CATALOGUED = "Produto ainda não foi catalogado. Aguarde a aprovação do catálogo e envie novamente."
CHAOS_KINDS = ("reset", "timeout", "slow", "malformed", "burst5xx")
ML, CARREFOUR, AMAZON = "mercadolivre", "carrefour", "amazon"


class SimClock:
    """Simulated ms since the epoch, ``speed`` times faster than the wall."""

    def __init__(self, speed: float, start_ms: int) -> None:
        self.speed = speed
        self.real0 = time.time()
        self.sim0 = start_ms

    def now_ms(self) -> int:
        return self.sim0 + int((time.time() - self.real0) * self.speed * 1000)

    def describe(self) -> Dict[str, Any]:
        return {"real0": self.real0, "sim0_ms": self.sim0, "speed": self.speed}


class Bucket:
    """A token bucket in simulated time: ``rate`` per second, one second deep."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = None  # type: Optional[int]

    def take(self, now: int) -> Tuple[bool, float, int]:
        """(taken, seconds until the next token, tokens left)."""
        if self.at is not None:
            self.tokens = min(self.rate, self.tokens + (now - self.at) / 1000.0 * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0, int(self.tokens)
        return False, (1 - self.tokens) / self.rate, 0


class World:
    """The marketplaces' state; every method runs under ``lock``."""

    def __init__(self, a: argparse.Namespace, clock: SimClock) -> None:
        self.a = a
        self.clock = clock
        self.lock = threading.Lock()
        self.rnd = random.Random(a.seed)
        self.chaos = {k: 0.0 for k in CHAOS_KINDS}
        self.burst_left = 0
        self.calls: Dict[str, Dict[str, int]] = {}
        self.chaos_applied = {k: 0 for k in CHAOS_KINDS}
        # (marketplace, sku) -> [quantity, version]; catalogued_at: when a
        # not-yet-catalogued SKU appears (absent: catalogued from the start).
        self.items: Dict[Tuple[str, str], List[int]] = {}
        self.catalogued_at: Dict[Tuple[str, str], int] = {}
        self.writes: List[Tuple[str, str, int, int]] = []
        now = clock.now_ms()
        for market, sku in load_catalogue(a.catalogue):
            self.items[(market, sku)] = [0, 1]
            if market != ML and self.rnd.random() < a.uncatalogued:
                self.catalogued_at[(market, sku)] = now + int(self.rnd.random() * a.catalogue_within * 1000)
        self.ml_bucket = Bucket(a.ml_rate)
        self.amazon_bucket = Bucket(a.amazon_rate)
        self.token_n = 0
        self.token: Optional[str] = None
        self.token_expires = 0
        self.last_import = None  # type: Optional[int]
        self.imports: Dict[int, Dict[str, Any]] = {}
        self.amazon_queue: List[Tuple[int, int, str, int]] = []  # (due, seq, sku, qty)
        self.amazon_seq = 0
        self.amazon_applied: Dict[str, int] = {}  # sku -> seq of the PATCH shown
        self.drift_left = a.drift
        self.drift_end = now + int(a.drift_until * 1000)
        self.drift_next = now

    # ------------------------------------------------------------ shared
    def count(self, market: str, what: str) -> None:
        c = self.calls.setdefault(market, {})
        c[what] = c.get(what, 0) + 1

    def catalogued(self, key: Tuple[str, str], now: int) -> bool:
        if key not in self.items:
            return False
        at = self.catalogued_at.get(key)
        return at is None or now >= at

    def apply(self, market: str, sku: str, qty: int, now: int) -> None:
        item = self.items[(market, sku)]
        item[0] = qty
        item[1] += 1
        self.writes.append((market, sku, qty, now))

    def advance(self, now: int) -> None:
        """Run what the schedule says is due by ``now``: Amazon's PATCHes,
        imports finishing, the marketplace's own drift."""
        q = self.amazon_queue
        while q and q[0][0] <= now:
            due, seq, sku, qty = heapq.heappop(q)
            key = (AMAZON, sku)
            # A PATCH shows only if the SKU exists then and no later PATCH showed first.
            if self.catalogued(key, due) and self.amazon_applied.get(sku, -1) < seq:
                self.amazon_applied[sku] = seq
                self.apply(AMAZON, sku, qty, due)
        for imp in self.imports.values():
            if imp["status"] != "COMPLETE" and now >= imp["done_at"]:
                self.finish_import(imp)
        while self.drift_left > 0 and self.drift_next <= min(now, self.drift_end):
            keys = [k for k in self.items if k[0] == AMAZON and self.catalogued(k, now)]
            if keys:
                market, sku = self.rnd.choice(keys)
                self.apply(market, sku, self.items[(market, sku)][0] + self.rnd.randint(1, 9), now)
                self.count(AMAZON, "drift")
            self.drift_left -= 1
            self.drift_next += max(1, int(self.a.drift_until * 1000 / max(1, self.a.drift)))

    def finish_import(self, imp: Dict[str, Any]) -> None:
        errors = []
        for sku, qty in imp["lines"]:
            key = (CARREFOUR, sku)
            if not self.catalogued(key, imp["done_at"]):
                errors.append((sku, qty, NOT_CATALOGUED))
            elif qty < 0:
                errors.append((sku, qty, "Quantidade inválida"))
            else:
                self.apply(CARREFOUR, sku, qty, imp["done_at"])
        imp["errors"] = errors
        imp["status"] = "COMPLETE"

    def truth(self) -> Dict[str, Dict[str, Optional[int]]]:
        now = self.clock.now_ms()
        out: Dict[str, Dict[str, Optional[int]]] = {ML: {}, CARREFOUR: {}, AMAZON: {}}
        for (market, sku), (qty, _) in self.items.items():
            out[market][sku] = qty if self.catalogued((market, sku), now) else None
        return out


def load_catalogue(path: Optional[str]) -> List[Tuple[str, str]]:
    """The (marketplace, SKU) pairs listed: the feed's, or none."""
    if not path:
        return []
    seen = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            seen[(row["integration"], row["sku"])] = True
    return list(seen)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client
    world: World = None  # type: ignore[assignment]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without NODELAY, Nagle's
        # algorithm and the client's delayed ACK cost 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: tests read stdout
        pass

    # ------------------------------------------------------------ plumbing
    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status: int, obj: Any = None, headers: Optional[Dict[str, str]] = None,
               raw: Optional[bytes] = None, ctype: str = "application/json") -> None:
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reset(self) -> None:
        # SO_LINGER 0: close() sends RST, the client sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def do_GET(self) -> None:
        self.route("GET")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        body = self.body()
        w = self.world
        if parts[0] in ("admin", "clock"):
            return self.admin(method, parts, body)
        market = {"ml": ML, "mirakl": CARREFOUR, "amazon": AMAZON}.get(parts[0])
        if market is None:
            return self.answer(404, {"message": "no such API"})
        with w.lock:
            now = w.clock.now_ms()
            w.advance(now)
            chaos = self.pick_chaos(market)
            if chaos in ("reset", "burst5xx"):  # nothing applied
                w.count(market, "chaos_" + chaos)
            else:
                status, obj, headers, raw = self.market(market, method, parts, query, body, now)
                w.count(market, "%s %d" % (method, status))
        if chaos == "reset":
            return self.reset()
        if chaos == "burst5xx":
            return self.answer(w.rnd.choice((500, 502, 503)), {"message": "internal error"})
        if chaos == "timeout":
            time.sleep(w.a.hang)
            self.close_connection = True
            return
        if chaos == "slow":
            time.sleep(w.a.slow)
        if chaos == "malformed":
            return self.answer(200, raw=b'{"status": "OK", "quanti')
        if raw is not None:
            return self.answer(status, headers=headers, raw=raw, ctype="text/csv")
        self.answer(status, obj, headers)

    def pick_chaos(self, market: str) -> Optional[str]:
        w = self.world
        if w.burst_left > 0:
            w.burst_left -= 1
            w.chaos_applied["burst5xx"] += 1
            return "burst5xx"
        for kind in CHAOS_KINDS:
            if w.chaos[kind] > 0 and w.rnd.random() < w.chaos[kind]:
                w.chaos_applied[kind] += 1
                if kind == "burst5xx":
                    w.burst_left = w.a.burst_len - 1
                return kind
        return None

    # ------------------------------------------------------------ admin
    def admin(self, method: str, parts: List[str], body: bytes) -> None:
        w = self.world
        with w.lock:
            now = w.clock.now_ms()
            w.advance(now)
            what = parts[1] if len(parts) > 1 else ""
            if parts[0] == "clock":
                return self.answer(200, w.clock.describe())
            if what == "truth":
                return self.answer(200, {"time_ms": now, "marketplaces": w.truth()})
            if what == "counters":
                return self.answer(200, {"time_ms": now, "calls": w.calls,
                                         "chaos": w.chaos_applied,
                                         "imports": len(w.imports)})
            if what == "writes":
                return self.answer(200, {"writes": w.writes})
            if what == "chaos":
                if method == "POST":
                    try:
                        set_chaos(w, json.loads(body or b"{}"))
                    except (ValueError, TypeError) as exc:
                        return self.answer(400, {"message": str(exc)})
                return self.answer(200, w.chaos)
            if what == "expire-token" and method == "POST":
                w.token_expires = now
                return self.answer(200, {"expired_at": now})
        self.answer(404, {"message": "no such admin call"})

    # ------------------------------------------------------------ marketplaces
    def market(self, market: str, method: str, parts: List[str], query: Dict[str, List[str]],
               body: bytes, now: int) -> Tuple[int, Any, Dict[str, str], Optional[bytes]]:
        if market == ML:
            return self.ml(method, parts, query, body, now)
        if market == CARREFOUR:
            return self.mirakl(method, parts, body, now)
        return self.amazon(method, parts, query, body, now)

    def ml(self, method: str, parts: List[str], query: Dict[str, List[str]], body: bytes,
           now: int) -> Tuple[int, Any, Dict[str, str], Optional[bytes]]:
        w = self.world
        if parts[1:] == ["oauth", "token"] and method == "POST":
            w.token_n += 1
            w.token = "APP_USR-%d" % w.token_n
            w.token_expires = now + int(w.a.token_ttl * 1000)
            return 200, {"access_token": w.token, "expires_in": w.a.token_ttl}, {}, None
        if self.headers.get("Authorization") != "Bearer %s" % w.token or now >= w.token_expires:
            return 401, {"status": 401, "message": "Unauthorized", "error": "invalid_token"}, {}, None
        ok, wait, left = w.ml_bucket.take(now)
        limit = {"x-ratelimit-limit": str(int(w.a.ml_rate)), "x-ratelimit-remaining": str(left)}
        if not ok:
            if w.rnd.random() < w.a.retry_after_share:
                limit["Retry-After"] = str(max(1, int(wait + 0.999)))
            return 429, {"status": 429, "message": "Too Many Requests"}, limit, None
        if method == "GET" and parts[1:] == ["stock"]:
            skus = ",".join(query.get("skus", [])).split(",")[:50]
            res = []
            for sku in skus:
                item = w.items.get((ML, sku))
                res.append({"sku": sku, "quantity": item[0], "version": item[1]} if item
                           else {"sku": sku, "error": "not_found"})
            return 200, {"results": res}, limit, None
        if len(parts) != 4 or parts[1] != "items" or parts[3] != "stock":
            return 404, {"message": "no such resource"}, limit, None
        sku = parts[2]
        item = w.items.get((ML, sku))
        if item is None:
            return 404, {"status": 404, "message": "Item não encontrado"}, limit, None
        if method == "GET":
            limit["x-version"] = str(item[1])
            return 200, {"sku": sku, "quantity": item[0], "version": item[1]}, limit, None
        if method != "PUT":
            return 405, {"message": "method not allowed"}, limit, None
        if w.rnd.random() < w.a.foreign_writes:
            item[1] += 1  # the marketplace's order flow touched the resource
        try:
            qty = int(json.loads(body)["quantity"])
            version = int(self.headers.get("x-version", ""))
        except (ValueError, KeyError, TypeError):
            return 400, {"status": 400, "message": "quantity and x-version required"}, limit, None
        if version != item[1]:
            return 409, {"status": 409, "message": "version mismatch: resource is at %d" % item[1]}, limit, None
        if qty < 0:
            return 400, {"status": 400, "message": "invalid quantity"}, limit, None
        w.apply(ML, sku, qty, now)
        limit["x-version"] = str(item[1])
        return 200, {"sku": sku, "quantity": qty, "version": item[1]}, limit, None

    def mirakl(self, method: str, parts: List[str], body: bytes,
               now: int) -> Tuple[int, Any, Dict[str, str], Optional[bytes]]:
        w = self.world
        if parts[1:3] != ["offers", "imports"]:
            return 404, {"message": "no such resource"}, {}, None
        if method == "POST" and len(parts) == 3:
            if w.last_import is not None and now - w.last_import < 60000:
                wait = (60000 - (now - w.last_import) + 999) // 1000
                return 429, {"status": 429, "message": "one import a minute"}, {"Retry-After": str(wait)}, None
            lines = []
            for n, line in enumerate(body.decode("utf-8", "replace").splitlines()):
                if n == 0 or not line:
                    continue  # the header line
                sku, _, qty = line.partition(";")
                try:
                    lines.append((sku, int(qty)))
                except ValueError:
                    lines.append((sku, -1))
            w.last_import = now
            iid = len(w.imports) + 1
            w.imports[iid] = {"id": iid, "status": "WAITING", "lines": lines, "errors": [],
                              "done_at": now + int(w.a.import_delay * 1000), "polled": None}
            return 201, {"import_id": iid}, {}, None
        if method != "GET" or len(parts) < 4 or not parts[3].isdigit() or int(parts[3]) not in w.imports:
            return 404, {"message": "no such import"}, {}, None
        imp = w.imports[int(parts[3])]
        if len(parts) == 5 and parts[4] == "error_report":
            if imp["status"] != "COMPLETE":
                return 404, {"message": "no report yet"}, {}, None
            rows = ["offer-sku;quantity;error-message"] + ["%s;%d;%s" % e for e in imp["errors"]]
            return 200, None, {}, ("\n".join(rows) + "\n").encode()
        if imp["polled"] is not None and now - imp["polled"] < 15000:
            wait = (15000 - (now - imp["polled"]) + 999) // 1000
            return 429, {"status": 429, "message": "poll at most every 15 s"}, {"Retry-After": str(wait)}, None
        imp["polled"] = now
        status = imp["status"] if imp["status"] == "COMPLETE" else (
            "RUNNING" if now >= imp["done_at"] - 5000 else "WAITING")
        return 200, {"import_id": imp["id"], "status": status, "lines_read": len(imp["lines"]),
                     "lines_in_error": len(imp["errors"]),
                     "has_error_report": bool(imp["errors"])}, {}, None

    def amazon(self, method: str, parts: List[str], query: Dict[str, List[str]], body: bytes,
               now: int) -> Tuple[int, Any, Dict[str, str], Optional[bytes]]:
        w = self.world
        if parts[1:2] != ["listings"]:
            return 404, {"message": "no such resource"}, {}, None
        ok, _, _ = w.amazon_bucket.take(now)
        limit = {"x-amzn-RateLimit-Limit": str(w.a.amazon_rate)}
        if not ok:  # Amazon sends no Retry-After
            return 429, {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}, limit, None
        if method == "GET" and len(parts) == 2:
            skus = ",".join(query.get("skus", [])).split(",")[:20]
            items, missing = [], []
            for sku in skus:
                if w.catalogued((AMAZON, sku), now):
                    items.append({"sku": sku, "quantity": w.items[(AMAZON, sku)][0]})
                else:
                    missing.append(sku)
            return 200, {"items": items, "missing": missing}, limit, None
        if len(parts) != 3:
            return 404, {"message": "no such resource"}, limit, None
        sku = parts[2]
        if method == "GET":
            if not w.catalogued((AMAZON, sku), now):
                return 404, {"errors": [{"code": "NOT_FOUND", "message": "SKU does not exist"}]}, limit, None
            return 200, {"sku": sku, "quantity": w.items[(AMAZON, sku)][0]}, limit, None
        if method != "PATCH":
            return 405, {"message": "method not allowed"}, limit, None
        try:
            qty = int(json.loads(body)["quantity"])
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": [{"code": "INVALID", "message": "quantity required"}]}, limit, None
        w.amazon_seq += 1
        lo, hi = w.a.amazon_delay
        due = now + int((lo + (hi - lo) * w.rnd.random()) * 1000)
        # Shown in due order; a PATCH overtaken by a later one that showed first is dropped.
        heapq.heappush(w.amazon_queue, (due, w.amazon_seq, sku, qty))
        return 200, {"sku": sku, "status": "ACCEPTED", "submissionId": "sub-%d" % w.amazon_seq}, limit, None


def set_chaos(w: World, spec: Dict[str, Any]) -> None:
    for k, v in spec.items():
        if k not in CHAOS_KINDS:
            raise ValueError("unknown chaos switch %r (one of %s)" % (k, ", ".join(CHAOS_KINDS)))
        v = float(v)
        if not 0 <= v <= 1:
            raise ValueError("chaos %s must be a probability, not %s" % (k, v))
        w.chaos[k] = v


def parse_chaos(text: str) -> Dict[str, float]:
    out = {}
    for part in filter(None, text.split(",")):
        k, _, v = part.partition("=")
        out[k.strip()] = float(v)
    return out


def parse_args(argv: List[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port (default: ephemeral)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--catalogue", help="CSV feed (integration, sku columns): the listed SKUs")
    ap.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    ap.add_argument("--start", type=int, default=1769846400000, help="simulated start, ms since the epoch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ml-rate", type=float, default=5.0, help="Mercado Livre requests/s per application")
    ap.add_argument("--amazon-rate", type=float, default=10.0, help="Amazon requests/s")
    ap.add_argument("--retry-after-share", type=float, default=0.5,
                    help="share of Mercado Livre 429s that carry Retry-After")
    ap.add_argument("--token-ttl", type=float, default=6 * 3600.0, help="access token lifetime, s")
    ap.add_argument("--foreign-writes", type=float, default=0.01,
                    help="share of PUTs that find the version bumped by another writer")
    ap.add_argument("--import-delay", type=float, default=40.0, help="import processing time, s")
    ap.add_argument("--uncatalogued", type=float, default=0.0,
                    help="share of carrefour and amazon SKUs not catalogued at the start")
    ap.add_argument("--catalogue-within", type=float, default=600.0,
                    help="those are catalogued at a random time within this many s")
    ap.add_argument("--amazon-delay", type=float, nargs=2, default=(2.0, 20.0), metavar=("MIN", "MAX"),
                    help="an accepted PATCH shows after MIN to MAX s")
    ap.add_argument("--drift", type=int, default=0, help="quantities Amazon changes by itself")
    ap.add_argument("--drift-until", type=float, default=600.0, help="... within this many s")
    ap.add_argument("--chaos", default="", help="e.g. reset=0.02,timeout=0.01,slow=0.05,malformed=0.02,burst5xx=0.005")
    ap.add_argument("--hang", type=float, default=1.0, help="real seconds a 'timeout' stays silent")
    ap.add_argument("--slow", type=float, default=0.2, help="real seconds a 'slow' answer waits")
    ap.add_argument("--burst-len", type=int, default=20, help="requests in a 5xx burst")
    a = ap.parse_args(argv)
    if a.speed <= 0:
        ap.error("--speed must be positive")
    a.chaos_spec = parse_chaos(a.chaos)
    return a


def main(argv: List[str]) -> int:
    a = parse_args(argv)
    clock = SimClock(a.speed, a.start)
    world = World(a, clock)
    try:
        set_chaos(world, a.chaos_spec)
    except ValueError as exc:
        print("sim.py: --chaos: %s" % exc, file=sys.stderr)
        return 2
    Handler.world = world
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print("listening on 127.0.0.1:%d" % port, flush=True)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)  # readers never see half a number
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
