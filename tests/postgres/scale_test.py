#!/usr/bin/env python3
"""Several stockguard-pg-instance processes on one PostgreSQL server.

    pg_harness.py BINDIR python3 scale_test.py SCENARIO INSTANCE

run by pg_harness.py (PGHOST... point at a server of the test's own,
STG_PG_BINDIR holds psql). SCENARIO is one of:

  failover   3 instances, 6 integrations of 2 shards (12 partitions),
             100,000 SKUs in three waves through the inbox. One instance is
             killed with SIGKILL in the middle of a pump; the two others
             take its partitions over once its leases expire. At the end:
             the inbox is empty; every SKU's entry holds its newest change,
             acknowledged, nothing pending; the marketplace (every send the
             instances recorded, merged in time order) shows each SKU's
             newest quantity; and no partition ever had two writers: no
             send carries an epoch older than a takeover that happened
             before it.
  fencing    an owner is stopped (SIGSTOP) past its lease with jobs in
             flight, another instance takes over, the first is resumed:
             its renew is refused (fenced) and it sends nothing more.
  fencing-unsafe
             the same with the owner's lease check turned off
             (--unsafe-no-lease-check): its next write is rejected, its log
             says so, and nothing it does afterwards reaches storage.

Sends are recorded by each instance's transport in a file of its own, one
line per job: "<CLOCK_MONOTONIC ns> <partition> <epoch> <integration>
<sku> <published>"; instance events (acquired, loaded, fenced, released) go
to another, with the same clock. CLOCK_MONOTONIC is one clock for every
process of the machine, so the files merge into one history.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import stockguard as sg  # noqa: E402

failures = 0


def check(ok, what):
    global failures
    print(("ok - " if ok else "not ok - ") + what, flush=True)
    if not ok:
        failures += 1
    return ok


def psql(sql, stdin=None):
    cmd = [os.path.join(os.environ["STG_PG_BINDIR"], "psql"), "-X", "-q", "-At",
           "-v", "ON_ERROR_STOP=1", "-c", sql]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("psql %r: %s" % (sql[:80], r.stderr))
    return r.stdout


def produce(rows):
    """COPY (integration, sku, quantity, sequence) rows into the inbox."""
    data = "".join("%s\t%s\t%d\t%d\n" % r for r in rows)
    psql("COPY stg_inbox (integration, sku, quantity, sequence) FROM STDIN", stdin=data)


class Instance:
    def __init__(self, exe, tmp, name, integrations, *extra):
        self.name = name
        self.record = os.path.join(tmp, name + ".sends")
        self.events_path = os.path.join(tmp, name + ".events")
        args = [exe, "--owner", name, "--record", self.record, "--events", self.events_path]
        for i in integrations:
            args += ["--integration", i]
        args += list(extra)
        self.proc = subprocess.Popen(args, stderr=open(os.path.join(tmp, name + ".err"), "w"))

    def events(self):
        out = []
        if os.path.exists(self.events_path):
            with open(self.events_path) as f:
                for line in f:
                    p = line.split(" ", 4)
                    if len(p) >= 4:
                        out.append((int(p[0]), p[1], p[2], int(p[3]), p[4].strip() if len(p) > 4 else ""))
        return out

    def sends(self):
        out = []
        if os.path.exists(self.record):
            with open(self.record) as f:
                for line in f:
                    p = line.split()
                    if len(p) == 6:
                        out.append((int(p[0]), p[1], int(p[2]), p[3], p[4], int(p[5]), self.name))
        return out

    def held(self):
        """Partitions loaded and not given up, by this instance's events."""
        held = set()
        for _, ev, part, _, _ in self.events():
            if ev == "loaded":
                held.add(part)
            elif ev in ("released", "closed", "fenced"):
                held.discard(part)
        return held

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return check(False, "%s (waited %.0f s)" % (what, timeout))


def entries():
    """Every stg_entry row, decoded by the library: {(integration, sku): (Entry, epoch, bytes)}."""
    out = {}
    text = psql("COPY (SELECT integration, sku, encode(entry, 'hex'), epoch FROM stg_entry) TO STDOUT")
    for line in text.splitlines():
        integ, sku, hexed, epoch = line.split("\t")
        raw = bytes.fromhex(hexed)
        out[(integ, sku)] = (sg.decode(raw), int(epoch), raw)
    return out


def two_writer_violations(instances):
    """Sends whose epoch is older than a takeover of their partition that
    happened (was recorded) before them."""
    takeovers = {}
    for inst in instances:
        for t, ev, part, epoch, _ in inst.events():
            if ev == "acquired":
                takeovers.setdefault(part, []).append((t, epoch))
    bad = []
    for inst in instances:
        for t, part, epoch, integ, sku, qty, who in inst.sends():
            if any(ta < t and ea > epoch for ta, ea in takeovers.get(part, [])):
                bad.append((t, part, epoch, sku, who))
    return bad


def marketplace(instances):
    """What each (integration, sku) shows: the last send in time order."""
    sends = sorted(s for inst in instances for s in inst.sends())
    shown = {}
    for t, part, epoch, integ, sku, qty, who in sends:
        shown[(integ, sku)] = qty
    return shown, len(sends)


def check_final(newest, instances, label):
    ents = entries()
    check(len(ents) == len(newest), "%s: %d entries stored for %d SKUs" % (label, len(ents), len(newest)))
    wrong_seq = [k for k, (q, s) in newest.items() if k not in ents or ents[k][0].sequence != s]
    check(not wrong_seq, "%s: every entry holds its newest change (%d do not%s)" % (
        label, len(wrong_seq), ", e.g. %r" % (wrong_seq[:3],) if wrong_seq else ""))
    unacked = [k for k, (q, s) in newest.items()
               if k in ents and (ents[k][0].job_id != 0 or ents[k][0].acked != q
                                 or ents[k][0].published != q)]
    check(not unacked, "%s: every newest quantity is published and acknowledged, none pending "
          "(%d are not%s)" % (label, len(unacked), ", e.g. %r" % (
              [(k, ents[k][0].published, ents[k][0].acked, ents[k][0].job_id, newest[k])
               for k in unacked[:3]],) if unacked else ""))
    shown, nsends = marketplace(instances)
    wrong = [k for k, (q, s) in newest.items() if shown.get(k) != q]
    check(not wrong, "%s: the marketplace shows every SKU's newest quantity (%d do not%s)" % (
        label, len(wrong), ", e.g. %r" % ([(k, shown.get(k), newest[k]) for k in wrong[:3]],)
        if wrong else ""))
    left = int(psql("SELECT count(*) FROM stg_inbox"))
    check(left == 0, "%s: the inbox is empty (%d rows left)" % (label, left))
    return ents, nsends


def newest_of(newest, rows):
    for integ, sku, qty, seq in rows:
        k = (integ, sku)
        if k not in newest or newest[k][1] < seq:
            newest[k] = (qty, seq)


def scenario_failover(exe, tmp):
    integrations = ["m%d:2" % i for i in range(6)]
    nsku = int(os.environ.get("STG_SCALE_SKUS", "100000"))
    ttl = 3000
    rnd = random.Random(16)
    common = ["--ttl-ms", str(ttl), "--renew-ms", "500", "--settle-ms", "1000", "--batch", "50",
              "--pump", "1000", "--claim", "2000", "--send-delay-us", "3000"]
    insts = [Instance(exe, tmp, "i%d" % k, integrations, *common) for k in range(3)]
    try:
        if not wait_for("every partition is held", lambda: sum(len(i.held()) for i in insts) == 12, 60):
            return
        check(all(len(i.held()) == 4 for i in insts),
              "the 12 partitions are shared 4/4/4 (%s)" % [len(i.held()) for i in insts])
        newest = {}
        skus = [("m%d" % (n % 6), "sku-%06d" % n) for n in range(nsku)]
        wave1 = [(integ, sku, rnd.randint(0, 40), 1) for integ, sku in skus]
        t0 = time.monotonic()
        produce(wave1)
        newest_of(newest, wave1)
        victim = insts[0]
        # Stock-outs and restocks (within the filter's window, so exported).
        wave2 = [(integ, sku, rnd.randint(0, 5), 2) for integ, sku in rnd.sample(skus, nsku * 3 // 10)]
        wait_for("the victim is pumping", lambda: len(victim.sends()) >= nsku // 20, 120)
        produce(wave2)
        newest_of(newest, wave2)
        # A replayed older row (sequence 1 again) must be stale, not a regression.
        replay = [(integ, sku, 999, 1) for integ, sku, _, _ in wave2[:500]]
        produce(replay)
        before = len(victim.sends())
        wait_for("the victim is in the middle of a pump",
                 lambda: len(victim.sends()) > before + 200, 60)
        victim_parts = victim.held()
        victim.proc.kill()
        victim.proc.wait()
        t_kill = time.monotonic_ns()
        check(True, "SIGKILL of %s holding %s after %d sends" % (
            victim.name, sorted(victim_parts), len(victim.sends())))
        wave3 = [(integ, sku, rnd.randint(0, 5), 3) for integ, sku in rnd.sample(skus, nsku // 5)]
        produce(wave3)
        newest_of(newest, wave3)
        survivors = insts[1:]

        def settled():
            if int(psql("SELECT count(*) FROM stg_inbox")) != 0:
                return False
            if sum(len(i.held()) for i in survivors) != 12:
                return False
            shown, _ = marketplace(insts)
            return all(shown.get(k) == q for k, (q, s) in newest.items())

        wait_for("every change reaches the marketplace", settled, 240)
        elapsed = time.monotonic() - t0
        takeovers = [(t, part, epoch, info) for inst in survivors
                     for t, ev, part, epoch, info in inst.events()
                     if ev == "loaded" and part in victim_parts]
        check(sorted(set(p for _, p, _, _ in takeovers)) == sorted(victim_parts),
              "the survivors took over every partition of the victim (%d)" % len(takeovers))
        if takeovers:
            first = min(t for t, _, _, _ in takeovers)
            last = max(t for t, _, _, _ in takeovers)
            check((last - t_kill) / 1e9 < ttl / 1000 + 5,
                  "takeover %.2f-%.2f s after the kill (lease TTL %.1f s); loads: %s" % (
                      (first - t_kill) / 1e9, (last - t_kill) / 1e9, ttl / 1000,
                      "; ".join(info for _, _, _, info in takeovers)))
        for inst in survivors:
            rc = inst.stop()
            check(rc == 0, "%s stops cleanly on SIGTERM (exit %s)" % (inst.name, rc))
        free = psql("SELECT count(*) FROM stg_lease WHERE owner IS NULL")
        check(int(free) == 12, "a clean stop released every lease (%s of 12 free)" % free.strip())
        ents, nsends = check_final(newest, insts, "failover")
        bad = two_writer_violations(insts)
        check(not bad, "no send from an old epoch after a takeover (%d%s)" % (
            len(bad), ", e.g. %r" % (bad[:3],) if bad else ""))
        changes = len(wave1) + len(wave2) + len(wave3)
        fewest = len(newest) + len({(i, s) for i, s, _, _ in wave2}) + len({(i, s) for i, s, _, _ in wave3})
        print("# %d SKUs, %d changes (+%d replayed), %d sends (at most %d needed without coalescing); "
              "%.1f s from the first wave to the last send" % (
                  len(newest), changes, len(replay), nsends, fewest, elapsed), flush=True)
        check(nsends <= fewest + 2 * len(victim_parts) * 2000,
              "sends (%d) stay within the changes plus the victim's unacknowledged window" % nsends)
    finally:
        for inst in insts:
            if inst.proc.poll() is None:
                inst.proc.kill()
                inst.proc.wait()


def scenario_fencing(exe, tmp, unsafe):
    integrations = ["f0:2", "f1:2"]
    ttl = 1500
    rnd = random.Random(17)
    common = ["--ttl-ms", str(ttl), "--renew-ms", "300", "--settle-ms", "100", "--batch", "20",
              "--pump", "200", "--send-delay-us", "20000"]
    a = Instance(exe, tmp, "a", integrations, *(common + (["--unsafe-no-lease-check"] if unsafe else [])))
    b = None
    try:
        if not wait_for("a holds every partition", lambda: len(a.held()) == 4, 30):
            return
        skus = [("f%d" % (n % 2), "sku-%05d" % n) for n in range(4000)]
        newest = {}
        rows = [(integ, sku, rnd.randint(0, 30), 1) for integ, sku in skus]
        produce(rows)
        newest_of(newest, rows)
        wait_for("a is pumping", lambda: len(a.sends()) >= 200, 60)
        a.proc.send_signal(signal.SIGSTOP)
        t_stop = time.monotonic_ns()
        a_epochs = {part: epoch for _, ev, part, epoch, _ in a.events() if ev == "acquired"}
        check(True, "SIGSTOP of a after %d sends" % len(a.sends()))
        b = Instance(exe, tmp, "b", integrations, *common)
        if not wait_for("b takes every partition over", lambda: len(b.held()) == 4, 30):
            return
        b_epochs = {part: epoch for _, ev, part, epoch, _ in b.events() if ev == "acquired"}
        check(all(b_epochs[p] > a_epochs[p] for p in b_epochs),
              "b's epochs are above a's: %s over %s" % (b_epochs, a_epochs))
        waited = (min(t for t, ev, _, _, _ in b.events() if ev == "acquired") - t_stop) / 1e9
        check(waited >= 0.5, "the takeover waited for a's lease to expire (%.2f s after the stop, "
              "TTL %.1f s)" % (waited, ttl / 1000))
        more = [(integ, sku, rnd.randint(0, 5), 2) for integ, sku in rnd.sample(skus, 1000)]
        produce(more)
        newest_of(newest, more)
        wait_for("b pumps", lambda: len(b.sends()) > 0, 30)
        snapshot = {k: (epoch, raw) for k, (_, epoch, raw) in entries().items()}
        a_rows_before = {k: v for k, v in snapshot.items() if v[0] == a_epochs.get(
            sg_partition(k), -1)}
        t_cont = time.monotonic_ns()
        a_sends_before = len(a.sends())
        a.proc.send_signal(signal.SIGCONT)

        def old_epochs_gone():
            ended = {e[2] for e in a.events() if e[1] in ("fenced", "closed", "released")
                     and e[3] == a_epochs.get(e[2])}
            return ended == set(a_epochs)

        wait_for("a gives up every partition it held before the stop", old_epochs_gone, 30)
        fenced = [e for e in a.events() if e[1] == "fenced" and e[3] == a_epochs.get(e[2])]
        msgs = " | ".join(sorted({e[4][:100] for e in fenced}))
        if unsafe:
            check(any(not e[4].startswith("renew") and "fenced" in e[4] for e in fenced),
                  "a's next write was rejected and its log says so: %s" % msgs)
        else:
            # Its lease check stops the sends; which refusal it meets first
            # (a renew, or the inbox claim, fenced like a write) depends on
            # where in its loop it was stopped.
            check(len(fenced) == len(a_epochs),
                  "a was told it was fenced for each of its %d partitions: %s" % (len(a_epochs), msgs))
        late = [s for s in a.sends() if s[0] > t_cont and s[2] == a_epochs.get(s[1])]
        if unsafe:
            print("# without the lease check, a sent %d jobs under its old epochs after it was "
                  "resumed (at-least-once: b sends them too)" % len(late), flush=True)
        else:
            check(not late, "a sent nothing under its old epochs after it was resumed (%d sends)"
                  % len(late))
        check(a.proc.poll() is None, "a keeps running after losing its partitions")

        def settled():
            shown, _ = marketplace([a, b])
            return int(psql("SELECT count(*) FROM stg_inbox")) == 0 and all(
                shown.get(k) == q for k, (q, s) in newest.items())

        wait_for("b brings every SKU right", settled, 120)
        after = entries()
        a_epoch_set = set(a_epochs.values())
        reached = [k for k, (_, epoch, raw) in after.items()
                   if epoch in a_epoch_set and sg_partition(k) in a_epochs
                   and epoch == a_epochs[sg_partition(k)] and a_rows_before.get(k) != (epoch, raw)]
        check(not reached, "nothing a did after the takeover reached storage (%d rows)" % len(reached))
        print("# a sent %d before its stop, %d after" % (a_sends_before, len(a.sends()) - a_sends_before))
        for inst in (a, b):
            rc = inst.stop()
            check(rc == 0, "%s stops cleanly (exit %s)" % (inst.name, rc))
        check_final(newest, [a, b], "fencing")
        if not unsafe:
            bad = two_writer_violations([a, b])
            check(not bad, "no send from an old epoch after the takeover (%d)" % len(bad))
    finally:
        for inst in (a, b):
            if inst and inst.proc.poll() is None:
                inst.proc.send_signal(signal.SIGCONT)
                inst.proc.kill()
                inst.proc.wait()


def fnv1a32(s):
    h = 2166136261
    for byte in s.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def sg_partition(key, shards=2):
    integ, sku = key
    return "%s#%d" % (integ, fnv1a32(sku) % shards)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    scenario, exe = argv[1], argv[2]
    with tempfile.TemporaryDirectory(prefix="stg-scale-") as tmp:
        try:
            if scenario == "failover":
                scenario_failover(exe, tmp)
            elif scenario == "fencing":
                scenario_fencing(exe, tmp, False)
            elif scenario == "fencing-unsafe":
                scenario_fencing(exe, tmp, True)
            else:
                sys.stderr.write("unknown scenario %s\n" % scenario)
                return 2
        finally:
            if failures:
                for name in sorted(os.listdir(tmp)):
                    if name.endswith(".err") or name.endswith(".events"):
                        with open(os.path.join(tmp, name)) as f:
                            text = f.read()
                        sys.stderr.write("--- %s (last 3000 bytes)\n%s\n" % (name, text[-3000:]))
    print("# %d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
