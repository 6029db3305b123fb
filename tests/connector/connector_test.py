#!/usr/bin/env python3
"""The reference connector against the marketplace simulator, over real HTTP.

    connector_test.py SCENARIO      (main, auth, kill, chaos-reset, chaos-timeout,
                                     chaos-slow, chaos-malformed, chaos-burst5xx)

Needs STOCKGUARD_LIBRARY and PYTHONPATH=bindings/python, as the other Python
tests. Each scenario writes a feed with examples/gen-feed.py, starts
examples/marketplace-sim/sim.py and examples/connector/connector.py as
subprocesses on 127.0.0.1, stops them whatever happens, and checks the
simulator's truth against the feed: every (marketplace, SKU) must show the
quantity the integration's policy publishes for the SKU's newest row.
Exit status 0 when every check passed; each failed check is printed.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, os.pardir, os.pardir)
SIM = os.path.join(ROOT, "examples", "marketplace-sim", "sim.py")
CONNECTOR = os.path.join(ROOT, "examples", "connector", "connector.py")
GEN = os.path.join(ROOT, "examples", "gen-feed.py")

import stockguard as sg  # noqa: E402

# A window above any stock of the feed: every change of the published
# quantity is exported, so the marketplace must end on the newest one.
POLICIES = {"mercadolivre": 2, "amazon": 3, "carrefour": 5}
WINDOW = 1000000
failures = []


def check(ok, what):
    print("%s - %s" % ("ok" if ok else "FAILED", what), flush=True)
    if not ok:
        failures.append(what)


class Run:
    """A simulator and connectors in a temporary folder, stopped at the end."""

    def __init__(self, sim_args, rows, skus, seed=5):
        self.dir = tempfile.mkdtemp(prefix="stg-connector-")
        self.feed = os.path.join(self.dir, "feed.csv")
        subprocess.run([sys.executable, GEN, "--rows", str(rows), "--skus", str(skus),
                        "--hours", "1", "--seed", str(seed), "-o", self.feed], check=True)
        self.procs = []
        port_file = os.path.join(self.dir, "port")
        self.sim = self.spawn([SIM, "--catalogue", self.feed, "--port-file", port_file] + sim_args,
                              "sim.out")
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if time.time() > deadline or self.sim.poll() is not None:
                raise SystemExit("the simulator did not start: %s" % self.read("sim.out"))
            time.sleep(0.05)
        self.base = "http://127.0.0.1:%s" % open(port_file).read().strip()
        self.db = os.path.join(self.dir, "stock.db")

    def spawn(self, argv, out):
        p = subprocess.Popen([sys.executable] + argv, stdout=open(os.path.join(self.dir, out), "ab"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def read(self, name):
        with open(os.path.join(self.dir, name), errors="replace") as f:
            return f.read()

    def connector(self, extra, out="connector.out"):
        args = [CONNECTOR, "--sim", self.base, "--db", self.db, "--feed", self.feed,
                "--progress", "5", "--summary", os.path.join(self.dir, "summary.json")]
        for name, mins in POLICIES.items():
            args += ["--policy", "%s=%d,%d" % (name, mins, WINDOW)]
        return self.spawn(args + extra, out)

    def admin(self, path, data=None):
        req = urllib.request.Request(self.base + path, data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def summary(self):
        with open(os.path.join(self.dir, "summary.json")) as f:
            return json.load(f)

    def wait(self, proc, timeout):
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            check(False, "the connector finished within %d s" % timeout)
            return None

    def stop(self):
        """Stop every process; remove the folder unless a check failed (kept to look at)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failures:
            print("# kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ checks
    def newest(self):
        """(integration, sku) -> (newest available, time of the first row)."""
        out, first = {}, {}
        with open(self.feed) as f:
            next(f)
            for line in f:
                t, integ, sku, avail = line.split(",")[:4]
                out[(integ, sku)] = int(avail)
                first.setdefault((integ, sku), int(t))
        return out, first

    def check_truth(self):
        newest, _ = self.newest()
        truth = self.admin("/admin/truth")["marketplaces"]
        policies = {n: sg.Policy(min_stock=m) for n, m in POLICIES.items()}
        wrong = []
        for (integ, sku), avail in newest.items():
            want = policies[integ].evaluate(avail).published
            got = truth[integ].get(sku)
            if got != want:
                wrong.append("%s %s: shows %s, the policy publishes %d" % (integ, sku, got, want))
        for p in policies.values():
            p.close()
        check(not wrong, "every SKU on each marketplace shows its newest published quantity "
              "(%d pairs; %d wrong%s)" % (len(newest), len(wrong),
                                          ": " + "; ".join(wrong[:5]) if wrong else ""))
        return newest

    def counters(self):
        calls = self.admin("/admin/counters")["calls"]
        total = sum(v for m in calls.values() for k, v in m.items() if k != "drift")
        r429 = sum(v for m in calls.values() for k, v in m.items() if k.endswith(" 429"))
        return calls, total, r429

    def check_summary(self, allowed=("transient", "rate_limited", "conflict", "not_catalogued")):
        s = self.summary()
        for name, i in s["integrations"].items():
            check(i["counts"]["pending"] == 0 and i["counts"]["error"] == 0,
                  "%s: every entry acknowledged (%s)" % (name, i["counts"]))
            odd = set(i["errors"]) - set(allowed)
            check(not odd, "%s: failures classed %s only (%s)" % (name, "/".join(allowed), i["errors"]))
        return s


def sim_args(speed, extra=()):
    return ["--speed", str(speed), "--uncatalogued", "0.02", "--catalogue-within", "400"] + list(extra)


def scenario_main():
    # 10,000 SKUs over three integrations: the initial load is a burst, then
    # oversell spikes (stock-outs) and restocks over half an hour.
    run = Run(sim_args(60, ["--drift", "20", "--drift-until", "900"]), rows=30000, skus=10000)
    try:
        t0 = time.time()
        c = run.connector(["--exit-when-idle", "--feed-scale", "0.5", "--latency-limit", "600",
                           "--max-runtime", "150"])
        rc = run.wait(c, 160)
        check(rc == 0, "the connector exits 0 (%s)" % rc)
        newest = run.check_truth()
        s = run.check_summary()
        calls, total, r429 = run.counters()
        check(total > 0 and r429 < 0.01 * total,
              "429s under 1%% of calls: %d of %d (%.2f%%)" % (r429, total, 100.0 * r429 / max(1, total)))
        rows = s["feed_rows"]
        pairs = {n: sum(1 for k in newest if k[0] == n) for n in POLICIES}
        writes = {"mercadolivre": calls["mercadolivre"].get("PUT 200", 0),
                  "amazon": calls["amazon"].get("PATCH 200", 0)}
        for n, w in writes.items():
            # Each pair needs one write at least; one per feed row is the naive connector.
            naive = sum(1 for _ in open(run.feed)) - 1
            check(pairs[n] <= w < naive, "%s: %d writes for %d pairs (fewest possible %d; one "
                  "per row would be %d of the feed's %d rows)" % (n, w, pairs[n], pairs[n],
                                                                   naive, rows))
        sizes = s["integrations"]["carrefour"]["import_sizes"]
        check(sizes and sum(sizes) >= pairs["carrefour"],
              "carrefour: %d imports carry %d lines for %d pairs (largest %d)" % (
                  len(sizes), sum(sizes), pairs["carrefour"], max(sizes or [0])))
        print("# calls by marketplace: %s" % json.dumps(calls, sort_keys=True))
        # Late updates: a pair whose first write showed more than the limit
        # after its first row was acknowledged later still: it must be reported.
        late = {(e["integration"], e["sku"]) for e in s["late_events"]}
        _, first = run.newest()
        clock = run.admin("/clock")
        first_write = {}
        for market, sku, _, at in run.admin("/admin/writes")["writes"]:
            first_write.setdefault((market, sku), at)
        feed_t0 = min(first.values()) * 1000
        must = set()
        # The connector maps feed time t to sim_t0 + (t - feed_t0) * scale; its
        # sim_t0 is kept in the database.
        db = sqlite3.connect(run.db)
        sim_t0 = db.execute("SELECT sim_t0 FROM connector_feed").fetchone()[0]
        db.close()
        for key, t in first.items():
            due = sim_t0 + int((t * 1000 - feed_t0) * 0.5)
            if key in first_write and first_write[key] - due > 600000 + 2000:
                must.add(key)
        missed = must - late
        check(must and not missed, "every late update reported: %d pairs showed over 600 s after "
              "their first row, %d late events, %d not reported" % (len(must), len(late), len(missed)))
        check(s["integrations"]["amazon"]["corrections"] > 0,
              "read-backs found Amazon's own changes: %d corrections (%s)" % (
                  s["integrations"]["amazon"]["corrections"], s["integrations"]["amazon"]["observed"]))
        print("# wall %.1f s, simulated %.0f s, speed %s" % (time.time() - t0,
              (run.admin("/admin/truth")["time_ms"] - clock["sim0_ms"]) / 1000.0, clock["speed"]))
    finally:
        run.stop()


def scenario_auth():
    run = Run(sim_args(60), rows=3000, skus=1000)
    try:
        c = run.connector(["--exit-when-idle", "--feed-scale", "0.1", "--max-runtime", "100"])
        # Mid-run: the access token expires; until renewed every call is 401.
        deadline = time.time() + 60
        while time.time() < deadline:
            if run.counters()[0].get("mercadolivre", {}).get("PUT 200", 0) >= 300:
                break
            time.sleep(0.2)
        run.admin("/admin/expire-token", b"")
        rc = run.wait(c, 110)
        check(rc == 0, "the connector exits 0 (%s)" % rc)
        run.check_truth()
        s = run.check_summary(("transient", "rate_limited", "conflict", "not_catalogued", "auth"))
        calls = run.counters()[0]
        check(calls["mercadolivre"].get("PUT 401", 0) + calls["mercadolivre"].get("GET 401", 0) >= 1,
              "the simulator answered 401 (%s)" % calls["mercadolivre"])
        ml = s["integrations"]["mercadolivre"]
        check(ml["renewals"] >= 2 and ml["errors"].get("auth", 0) >= 1,
              "mercadolivre paused on auth and resumed after a renewal (%d renewals, errors %s)"
              % (ml["renewals"], ml["errors"]))
        others = [n for n in ("amazon", "carrefour") if s["integrations"][n]["errors"].get("auth")]
        check(not others and set(s["paused"]) == {"mercadolivre"},
              "only mercadolivre was paused by a 401 (auth pauses: %s)" % s["paused"])
    finally:
        run.stop()


def scenario_kill():
    run = Run(sim_args(60), rows=3000, skus=1000)
    try:
        # First a clean stop: SIGTERM mid-run flushes, closes, exits 0 with a summary.
        c = run.connector(["--feed-scale", "0.1"], out="connector-term.out")
        deadline = time.time() + 60
        while time.time() < deadline and run.counters()[0].get("mercadolivre", {}).get("PUT 200", 0) < 50:
            time.sleep(0.1)
        c.send_signal(signal.SIGTERM)
        rc = run.wait(c, 30)
        check(rc == 0 and "summary:" in run.read("connector-term.out"),
              "SIGTERM mid-run: exit 0 and a summary (%s)" % rc)
        for n, need in enumerate((250, 600)):
            c = run.connector(["--feed-scale", "0.1"], out="connector%d.out" % n)
            deadline = time.time() + 60
            while time.time() < deadline and c.poll() is None:
                if run.counters()[0].get("mercadolivre", {}).get("PUT 200", 0) >= need:
                    break
                time.sleep(0.1)
            c.kill()  # SIGKILL: no flush, no close
            c.wait()
        c = run.connector(["--exit-when-idle", "--feed-scale", "0.1", "--max-runtime", "100"])
        rc = run.wait(c, 110)
        check(rc == 0, "the restarted connector exits 0 (%s)" % rc)
        run.check_truth()
        s = run.check_summary()
        total = sum(1 for _ in open(run.feed)) - 1
        check(s["changes_in"] < total, "the restart went on from the stored feed position "
              "(%d of %d rows read by the last run)" % (s["changes_in"], total))
    finally:
        run.stop()


def scenario_chaos(kind):
    prob = {"reset": "0.03", "timeout": "0.01", "slow": "0.05", "malformed": "0.03",
            "burst5xx": "0.004"}[kind]
    run = Run(sim_args(40, ["--chaos", "%s=%s" % (kind, prob), "--hang", "0.6", "--slow", "0.1",
                            "--burst-len", "15"]), rows=900, skus=300)
    try:
        c = run.connector(["--exit-when-idle", "--feed-scale", "0.1", "--http-timeout", "0.4",
                           "--max-runtime", "100"])
        rc = run.wait(c, 110)
        check(rc == 0, "no crash: the connector exits 0 (%s)" % rc)
        chaos = run.admin("/admin/counters")["chaos"]
        check(chaos[kind] > 0, "the %s switch was hit %d times" % (kind, chaos[kind]))
        run.check_truth()
        s = run.check_summary()
        seen = sum(i["errors"].get("transient", 0) for i in s["integrations"].values())
        if kind != "slow":  # slow answers still come in time
            check(seen > 0, "the chaos failures were classed transient (%d)" % seen)
    finally:
        run.stop()


def main(argv):
    name = argv[1] if len(argv) > 1 else "main"
    t = time.time()
    if name == "main":
        scenario_main()
    elif name == "auth":
        scenario_auth()
    elif name == "kill":
        scenario_kill()
    elif name.startswith("chaos-"):
        scenario_chaos(name[6:])
    else:
        print("unknown scenario %r" % name, file=sys.stderr)
        return 2
    print("# %s: %.1f s, %d failed" % (name, time.time() - t, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
