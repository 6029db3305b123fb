#!/usr/bin/env python3
"""Write the hand-made seeds of the replay and log fuzz corpora
(tests/fuzz/corpus/<target>/). The entry seeds come from gen_entry_seeds.c,
which uses the library's own encoder.

    python3 tests/fuzz/gen_corpus.py [CORPUS_DIR]

Seeds are named seed-<what>; files found by fuzzing (tools/fuzz.sh --merge)
are named by their SHA-1 and left alone, and crash-* files are findings.
Re-running rewrites the seed-* files only.

replay: CSV feeds (SPEC 7); a first line starting with "--" holds options.
log:    the action bytes of fuzz_log.c (the OP_ enum and the do_* readers).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- replay

HEADER = "time,integration,sku,available,fields\n"


def gen_replay():
    with open(os.path.join(HERE, "..", "..", "examples", "sample-feed.csv"), "rb") as f:
        sample = f.read()
    write("replay", "sample-feed", sample)
    write("replay", "sample-min10", b"--min-stock 10 --window 3\n" + sample)
    write("replay", "sample-reserve", b"--mode=reserve --min-stock=2 --cap 20 "
          b"--min-stock amazon=5\n" + sample)
    # A simulated marketplace limit: jobs wait, changes coalesce, acks come late.
    write("replay", "sample-limited", b"--rate 1/s --rate amazon=2/s --latency 700 "
          b"--latency-limit 2000 --lang pt\n" + sample)
    write("replay", "limited-extremes", "--rate=1/s --latency=0\n" + HEADER +
          "9223372036854775807,x,y,5,\n9223372036854775807,x,y,0,\n0,x,z,1,\n1,x,z,2,\n")
    write("replay", "basic", HEADER + "1700000000,amz,A,12,\n1700000060,amz,A,9,stock\n"
          "1700000120,amz,A,3,\n1700000180,amz,A,3,price\n")
    write("replay", "iso-times", HEADER + "2026-01-31T23:59:59Z,amz,A,1,\n"
          "2028-02-29T00:00:00Z,amz,A,0,\n")
    write("replay", "bom-crlf", "\ufeff" + HEADER.replace("\n", "\r\n") +
          "1,a,b,5,\r\n2,a,b,-4,stock|price\r\n\r\n")
    write("replay", "extremes", HEADER + "9223372036854775807,x,y,-9223372036854775808,\n"
          "9223372036854775807,x,y,9223372036854775807,stock\n0,x,z,0,\n")
    write("replay", "equal-times", HEADER + "5,i,s,10,\n5,i,s,2,\n5,i,s,2,\n")
    write("replay", "no-trailing-newline", HEADER + "1,i,s,3,")
    write("replay", "header-only", HEADER)
    # Refused feeds (exit 2).
    write("replay", "bad-header", "time,integration,sku,available\n1,a,b,2\n")
    write("replay", "quote", HEADER + '1,"a,b",c,2,\n')
    write("replay", "extra-column", HEADER + "1,a,b,2,,x\n")
    write("replay", "back-in-time", HEADER + "10,a,b,2,\n9,a,b,3,\n")
    write("replay", "bad-time", HEADER + "2026-02-30T00:00:00Z,a,b,1,\n")
    write("replay", "bad-number", HEADER + "1,a,b,99999999999999999999,\n")
    write("replay", "blank-in-middle", HEADER + "1,a,b,1,\n\n2,a,b,2,\n")
    write("replay", "nul", HEADER + "1,a,b\0,1,\n")
    write("replay", "empty-field-entry", HEADER + "1,a,b,1,stock||price\n")
    write("replay", "space-key", HEADER + "1, a,b,1,\n")
    write("replay", "empty", "")
    write("replay", "bad-options", b"--min-stock -1 --mode=x --cap\n" + HEADER.encode())
    write("replay", "help", b"--help\n")
    write("replay", "long-sku", HEADER + "1,a," + "s" * 1025 + ",1,\n")


# ---------------------------------------------------------------- log

(OP_SUBMIT, OP_SUBMIT2, OP_SUBMIT3, OP_BATCH, OP_PUMP, OP_PUMP2, OP_COMPLETE, OP_CLOCK,
 OP_PAUSE, OP_RESUME, OP_CATALOGUED, OP_REPROCESS, OP_REPROCESS_MATCHING, OP_REMOVE,
 OP_REMOVE_MATCHING, OP_EXPIRE, OP_QUERY, OP_FLUSH, OP_REOPEN, OP_FAULT_STORAGE,
 OP_FAULT_ALLOC, OP_POLICY, OP_LIMITS, OP_TRANSPORT, OP_BAD_ARGS) = range(25)
# bytes 250-255: the host's transaction and storage transaction faults (decode_op())
OP_BEGIN, OP_COMMIT, OP_FAULT_TXN = 250, 251, 252
# bytes 244-247: an observation, 248-249: message rules (decode_op())
OP_OBSERVE, OP_RULES = 244, 248

# transport behaviours (fuzz_log.c behaviour())
OK, ASYNC, AUTH, NOTCAT, RATE, TRANSIENT, REJECTED, HTTP, BAD_OUTCOME, BAD_CLASS, FAIL, \
    OK_PROBE, LONG_MSG = 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
# behaviour 14 with a high nibble: an answer classified by the message rules
# (fuzz_log.c ANSWER[]): 1 Carrefour "não foi catalogado" (400), 2 the same
# with a 500, 3 its 401 body with a 400, 4 "ProductId não encontrado" (404),
# 5 the same with a 503, 6 "SKU NOT FOUND" (400), 7 "does not exist" (422),
# 8 409 "x-version", 9 409 without a message, 10 400 "Invalid quantity",
# 11 a long 404 ending in "product not found", 12 429, 13 503 "retry later",
# 14 no response, 15 "nao foi catalogado" without the ã
def msg(n):
    return 14 | n << 4


# clock steps (index into step[])
T1MS, T1S, T4S, T1MIN, T1H, T1H1, T6H1, T1D = 1, 5, 6, 7, 8, 9, 11, 12
# seq modes: 0 older, 1 same, 2..4 newer, 5 much older, 6 extreme
NEWER, SAME, OLDER = 2, 1, 0


def cfg(storage=True, transport=True, batch=False, probe=False, page=2, lat=0, base=0,
        maxb=0, cat=0, age=0, count=0, tries=0, seed=7, txn=False, sqlite=False, v1=False):
    """txn: a transactional store (begin/commit/rollback); sqlite: one that ends a
    transaction when a write fails in it; v1: a version-1 storage struct."""
    a = (0 if storage else 1) | (0 if transport else 2) | (4 if batch else 0) | \
        (8 if probe else 0) | ((page - 1) << 4)
    b = lat | base << 2 | maxb << 4 | cat << 6
    d = age | count << 2 | tries << 4 | (0x40 if txn or sqlite else 0) | \
        (0x80 if sqlite or v1 else 0)
    return bytes([a, b, d, seed])


def key(i, k):
    """Key byte of integration i (0..2) and SKU k (0..5 busy, 6..23 more): pick_key()."""
    if k < 6:
        return 3 * k + i
    return 3 * (60 + k - 6) + i


def submit(i, k, avail, seq=NEWER, non_stock=False, at=0, cat=False):
    # fuzz_log.c make_submit(): 0cvvvvvv, or 1cccvvvv with a table value
    if avail in range(0, 64):
        b = avail | (0x40 if cat else 0)
    else:
        table = {-1: 12, -3: 13}
        b = 0x80 | table[avail] | (0x10 if cat else 0)
    return bytes([OP_SUBMIT, key(i, k), b, seq | (0x10 if non_stock else 0) | at << 5])


def pump(*script, max_jobs=0):
    return bytes([OP_PUMP, max_jobs, len(script)] + list(script))


def complete(which=0, beh=OK):
    return bytes([OP_COMPLETE, which, beh])


def clock(step, back=False):
    return bytes([OP_CLOCK, step | (0x80 if back else 0)])


def op(code, *args):
    return bytes([code] + list(args))


def commit(fail=False, rollback_fails=False):
    return bytes([OP_COMMIT, (1 if fail else 0) | (2 if rollback_fails else 0)])


def txn_fault(begin=0, commit=0, rollback=0, doubt=False, every_commit=False):
    """Fault bits of the next begins, commits and rollbacks (2 bits each)."""
    return bytes([OP_FAULT_TXN, begin | commit << 2 | rollback << 4 | (0x40 if doubt else 0) |
                  (0x80 if every_commit else 0)])


def observe(i, k, qty=0, at=0, flags=0, bad=0):
    """qty: 0 published, 1 acknowledged, 2 another, 3 zero, 4 1000, 5 negative,
    6 INT64_MAX, 7 published + 1; at: 0 now, 1 just before the acknowledgement,
    2 at it, 3 after it, 4 future, 5 long ago, 6 negative, 7 a ms ago; flags:
    0 none, 1 missing, 2 unknown, 3 missing + unknown; bad: 1 version 0,
    2 NULL, 3 empty SKU, 4 unknown SKU, 5 unknown integration, 6 NULL outcome."""
    return bytes([OP_OBSERVE, key(i, k), qty | at << 3 | flags << 6, bad])


def rules(i, *host, keep=False, defaults=False, after=False, bad=0):
    """host: (class, range, text, prefix, extra) tuples (fuzz_log.c do_set_rules());
    bad: 5 unknown flag, 6 NULL rules, 7 too many."""
    out = [OP_RULES, i | len(host) << 2 | (0x10 if keep else 0) | (0x20 if defaults else 0) |
           (0x40 if after else 0), bad]
    for cls, rng, text, prefix, extra in host:
        out += [cls | (8 if prefix else 0) | rng << 4, text | extra << 4]
    return bytes(out)


def batch(*changes):
    """changes: (i, k, avail) triples, newer sequences."""
    out = [OP_BATCH, len(changes) - 1]
    for i, k, avail in changes:
        out += list(submit(i, k, avail)[1:])
    return bytes(out)


def gen_log():
    w = lambda name, *parts: write("log", name, b"".join(parts))
    w("basic", cfg(), submit(0, 0, 10), pump(OK), clock(T1MIN), submit(0, 0, 3),
      pump(OK), submit(0, 0, 4), submit(0, 0, 40), op(OP_FLUSH), op(OP_QUERY, 2, 0, 0))
    w("async-follow-up", cfg(), submit(0, 0, 10), pump(ASYNC), submit(0, 0, 2), clock(T1S),
      complete(0, OK), pump(OK), op(OP_FLUSH))
    w("async-coalesce-back", cfg(), submit(1, 1, 8), pump(ASYNC), submit(1, 1, 3),
      submit(1, 1, 8), complete(0, OK), pump(OK))
    w("auth-pause-resume", cfg(), submit(0, 0, 5), submit(0, 1, 6), pump(AUTH),
      submit(0, 2, 1), pump(OK), op(OP_RESUME, 0), pump(OK, OK, OK))
    w("auth-reopen", cfg(), submit(2, 0, 5), pump(AUTH), op(OP_REOPEN, 0), pump(OK),
      op(OP_RESUME, 2), pump(OK))
    w("not-catalogued", cfg(cat=1), submit(0, 3, 2), pump(NOTCAT), pump(OK),
      op(OP_CATALOGUED, key(0, 3)), pump(OK), submit(0, 3, 1), pump(NOTCAT), clock(T1S),
      pump(OK))
    w("transient-to-error", cfg(base=1, maxb=1, tries=2), submit(1, 0, 4), pump(TRANSIENT),
      clock(T1S), pump(TRANSIENT), clock(T1S), pump(OK), submit(1, 0, 30),
      op(OP_REPROCESS, key(1, 0)), pump(OK))
    w("rejected-after-error", cfg(), submit(0, 0, 20), pump(OK), submit(0, 0, 2),
      pump(REJECTED), submit(0, 0, 20), pump(OK), submit(0, 0, 2), pump(REJECTED),
      submit(0, 0, 30), pump(OK))
    w("rate-limited", cfg(base=3, maxb=2), submit(0, 0, 0), pump(RATE | 0x50), clock(T1S),
      pump(OK), clock(T4S), pump(OK), op(OP_REPROCESS, key(0, 0)), pump(HTTP | 0x60))
    w("http-classes", cfg(tries=3), *[submit(i, k, 2) for i in range(3) for k in range(3)],
      pump(*[HTTP | (n << 4) for n in range(9)]), clock(T1H), pump(OK, OK, OK, OK, OK, OK))
    w("broken-results", cfg(), submit(0, 0, 1), submit(0, 1, 1), pump(BAD_OUTCOME, BAD_CLASS),
      clock(T1H), pump(LONG_MSG, OK), clock(T1H), pump(OK, OK))
    w("transport-fails", cfg(batch=True), op(OP_LIMITS, 4 << 2, 0), submit(0, 0, 1),
      submit(0, 1, 2), submit(0, 2, 3), pump(OK, FAIL), pump(OK, OK, OK))
    w("storage-fault-ack", cfg(), submit(0, 0, 3), op(OP_FAULT_STORAGE, 0x3f), pump(OK),
      op(OP_QUERY, 1, 0, 0), op(OP_FLUSH), op(OP_FAULT_STORAGE, 0), op(OP_FLUSH),
      op(OP_REOPEN, 1))
    w("storage-fault-submit", cfg(), op(OP_FAULT_STORAGE, 0x05), submit(0, 0, 3),
      submit(0, 0, 4), submit(0, 0, 5), op(OP_FAULT_STORAGE, 0xc0), op(OP_REMOVE, key(0, 0) | 0x80),
      op(OP_REMOVE, key(0, 0) | 0x80))
    w("reopen-in-flight", cfg(), submit(0, 0, 3), submit(1, 0, 4), pump(ASYNC, ASYNC),
      op(OP_REOPEN, 1), complete(0x40, OK), pump(OK, OK))
    w("reopen-no-flush", cfg(), submit(0, 0, 3), op(OP_FAULT_STORAGE, 0x01), pump(OK),
      op(OP_REOPEN, 0), pump(OK))
    w("load-faults", cfg(), submit(0, 0, 3), pump(OK), *[op(OP_REOPEN, m << 1)
                                                        for m in range(1, 7)],
      op(OP_REOPEN, 0x10 | (2 << 5)))
    w("expire-age", cfg(age=2), submit(0, 0, 3), submit(0, 1, 4), pump(OK, OK),
      clock(T1MIN), clock(T1MIN), op(OP_EXPIRE), submit(0, 2, 1), pump(OK), op(OP_EXPIRE))
    w("expire-count", cfg(count=1), *[submit(i, k, 2) for i in range(2) for k in range(5)],
      *[pump(OK) + clock(T1S) for _ in range(10)], op(OP_EXPIRE), op(OP_FAULT_ALLOC, 0),
      op(OP_EXPIRE))
    w("remove", cfg(), submit(0, 0, 1), op(OP_REMOVE, key(0, 0)), op(OP_REMOVE, key(0, 0) | 0x80),
      submit(0, 0, 1), pump(OK), op(OP_REMOVE, key(0, 0)), submit(0, 1, 1), submit(1, 1, 1),
      op(OP_REMOVE_MATCHING, 1, 3 | 1 << 2, 0), op(OP_REMOVE_MATCHING, 0, 3, 0))
    w("reprocess-matching", cfg(), submit(0, 0, 1), submit(1, 0, 2), pump(REJECTED, OK),
      op(OP_REPROCESS_MATCHING, 3, 0), pump(OK, OK), op(OP_REPROCESS_MATCHING, 0, 2))
    w("alloc-faults", cfg(), op(OP_FAULT_ALLOC, 0), submit(0, 0, 1), op(OP_FAULT_ALLOC, 1),
      submit(0, 1, 1), op(OP_FAULT_ALLOC, 0xe0), pump(OK), pump(ASYNC, ASYNC),
      op(OP_FAULT_ALLOC, 0), complete(0, OK), op(OP_FAULT_ALLOC, 0), op(OP_RESUME, 0),
      op(OP_FAULT_ALLOC, 0), op(OP_BAD_ARGS, 9), op(OP_FAULT_ALLOC, 0), op(OP_POLICY, 0, 5, 0, 0x11))
    w("alloc-storage-pump", cfg(), submit(0, 0, 1), op(OP_FAULT_STORAGE, 0x3f),
      op(OP_FAULT_ALLOC, 0xe0), pump(OK), op(OP_FAULT_STORAGE, 0), op(OP_FLUSH))
    # policy bytes: a (integration, bit 2 reserve, bits 3-4 allocation, bit 7 invalid),
    # b (min b % 21, window (b >> 5) * 3), d (bit 7: cap d % 31),
    # e (bit 0: SKU A minimum ((e >> 1) & 7) * 3; bit 4: category c minimum (e >> 5) * 4)
    w("policies", cfg(), op(OP_POLICY, 0, 10, 0, 0), op(OP_POLICY, 1 | 4, 5 | 1 << 5, 0x80 | 7, 0),
      op(OP_POLICY, 2 | 8, 3, 0, 1 | 2 << 1 | 0x10 | 3 << 5), submit(0, 0, 12), submit(0, 0, 9),
      submit(1, 0, 20), submit(1, 0, 50), submit(2, 0, 50), submit(2, 0, 3),
      submit(2, 1, 10, cat=True), submit(2, 1, 13, cat=True), submit(2, 1, 11),
      submit(2, 0, 7, cat=True), pump(OK, OK, OK, OK, OK),
      op(OP_POLICY, 0x80, 0, 0, 0), op(OP_POLICY, 0xc0, 0, 0, 0))
    w("limits-batch", cfg(batch=True), op(OP_LIMITS, 2 << 2, 10),
      op(OP_LIMITS, 1 | 5 << 2, 0), *[submit(i, k, 1) for i in range(2) for k in range(6)],
      pump(), clock(T1S), pump(), clock(T1S), pump(), op(OP_LIMITS, 7 << 2, 1),
      op(OP_LIMITS, 0, 2 | 1 << 2))
    w("no-transport", cfg(transport=False), submit(0, 0, 1), pump(OK),
      op(OP_TRANSPORT, 2), op(OP_TRANSPORT, 4), op(OP_TRANSPORT, 1), pump(OK),
      op(OP_REOPEN, 0), pump(OK))
    w("no-storage", cfg(storage=False), submit(0, 0, 1), pump(OK), op(OP_REOPEN, 1),
      submit(0, 0, 1), pump(ASYNC), op(OP_REOPEN, 0), complete(0x40, OK))
    w("probe", cfg(probe=True), submit(0, 0, 1), pump(OK_PROBE), submit(0, 0, 2),
      pump(ASYNC), complete(0, OK), op(OP_PAUSE, 0), op(OP_RESUME, 0))
    w("stale-and-batch", cfg(), submit(0, 0, 5, seq=4), submit(0, 0, 6, seq=OLDER),
      submit(0, 0, 7, seq=5), op(OP_BATCH, 3, key(0, 1), 1, 2, key(0, 1), 2, 0,
                                 key(0, 1), 3, 1, key(0, 1), 4, 6))
    w("wide", cfg(page=5), *[submit(i, k, k % 7) for i in range(3) for k in range(24)],
      pump(), op(OP_FLUSH), op(OP_REOPEN, 1), op(OP_EXPIRE), op(OP_QUERY, 0, 3, 0))
    w("clock-back", cfg(lat=1), submit(0, 0, 1), clock(T1H), clock(T1H, back=True),
      clock(T1H, back=True), pump(OK), op(OP_CLOCK, 0xe0), submit(0, 1, 1), pump(OK),
      op(OP_CLOCK, 0xe0), op(OP_QUERY, 0, 0, 1 << 3))
    w("late-abnormal", cfg(lat=1), submit(0, 0, 1, at=4), pump(OK), submit(0, 1, 1),
      clock(T4S), op(OP_QUERY, 0, 0, 2 << 2), pump(OK), op(OP_QUERY, 0, 0, 1 << 2))
    w("invalid-args", cfg(), *[op(OP_BAD_ARGS, n) for n in range(16)],
      *[op(OP_BAD_ARGS, 10 + 16 * n) for n in range(8)],
      *[bytes([OP_SUBMIT, 0, 0xe0, n]) for n in range(6)], op(OP_PAUSE, 0x80),
      op(OP_PAUSE, 0xc0))

    # Transactions (d bits 6-7 of the configuration, opcodes 250-252).
    T = cfg(txn=True)
    w("txn-batch-commit", T, batch((0, 0, 5), (0, 1, 6), (1, 0, 7)), pump(OK, OK, OK),
      txn_fault(commit=1), batch((0, 0, 1), (0, 2, 9)), op(OP_FLUSH),
      batch((0, 0, 1), (0, 2, 9)), op(OP_QUERY, 0, 0, 0))
    w("txn-pump-commit", T, submit(0, 0, 4), submit(0, 1, 5), txn_fault(commit=1),
      pump(OK, ASYNC), op(OP_FLUSH), txn_fault(commit=1), complete(0, OK), op(OP_FLUSH),
      submit(0, 0, 7), txn_fault(commit=1), pump(OK, FAIL), op(OP_FLUSH))
    w("txn-begin-fails", T, txn_fault(begin=1), batch((0, 0, 3), (0, 1, 3)),
      batch((0, 0, 3), (0, 1, 3)), op(OP_BEGIN), txn_fault(begin=1), submit(1, 0, 2),
      submit(1, 0, 3), commit(), pump(OK, OK))
    w("txn-host", T, op(OP_POLICY, 0, 5, 0, 0), op(OP_BEGIN), op(OP_BEGIN), submit(0, 0, 9),
      submit(0, 0, 3), submit(0, 1, 2), batch((1, 0, 4), (1, 1, 4)), op(OP_QUERY, 0, 0, 0),
      commit(), pump(OK, OK, OK, OK), op(OP_BEGIN), submit(0, 0, 12), op(OP_REMOVE, key(0, 1)),
      op(OP_REPROCESS, key(1, 0)), op(OP_REMOVE_MATCHING, 1, 3, 0), submit(0, 2, 1),
      commit(fail=True), commit(), op(OP_FLUSH), pump(OK, OK, OK))
    w("txn-host-refused", T, submit(0, 0, 3), pump(ASYNC), op(OP_BEGIN), pump(OK),
      complete(0, OK), op(OP_FLUSH), op(OP_PAUSE, 0), op(OP_RESUME, 0), op(OP_PAUSE, 0x80),
      op(OP_BAD_ARGS, 14), submit(0, 1, 2), commit(), complete(0, OK))
    w("txn-host-in-flight", T, submit(0, 0, 3), submit(0, 1, 4), pump(ASYNC, OK), op(OP_BEGIN),
      op(OP_REMOVE, key(0, 0) | 0x80), op(OP_REMOVE, key(0, 1)), submit(0, 1, 9),
      op(OP_EXPIRE), commit(fail=True), complete(0, OK), op(OP_FLUSH))
    w("txn-sqlite", cfg(sqlite=True), submit(0, 0, 2), op(OP_BEGIN), submit(0, 1, 3),
      op(OP_FAULT_STORAGE, 0x01), submit(0, 2, 4), submit(0, 3, 5), commit(),
      op(OP_FAULT_STORAGE, 0x02), batch((1, 0, 1), (1, 1, 2), (1, 2, 3)), pump(OK, OK, OK),
      op(OP_FAULT_STORAGE, 0x02), pump(OK, OK), op(OP_FLUSH))
    w("txn-rollback-doubt", T, submit(0, 0, 3), pump(OK), op(OP_BEGIN), submit(0, 0, 5),
      commit(fail=True, rollback_fails=True), txn_fault(commit=1, doubt=True),
      batch((0, 1, 2), (0, 2, 2)), op(OP_FLUSH), op(OP_REOPEN, 0), txn_fault(rollback=1),
      op(OP_BEGIN), submit(0, 0, 1), commit(fail=True), op(OP_FLUSH))
    w("txn-reopen-open", T, submit(0, 0, 3), op(OP_BEGIN), submit(0, 0, 4), submit(1, 1, 1),
      op(OP_REOPEN, 1), submit(0, 0, 6), op(OP_BEGIN), submit(2, 2, 2), op(OP_REOPEN, 0))
    w("txn-matching-expire", cfg(txn=True, count=1), submit(0, 0, 1), submit(1, 0, 2),
      pump(REJECTED, OK), txn_fault(commit=3), op(OP_REPROCESS_MATCHING, 3, 0),
      op(OP_REPROCESS_MATCHING, 3, 0), op(OP_FLUSH), op(OP_REPROCESS_MATCHING, 3, 0),
      pump(OK, OK), clock(T1S), txn_fault(commit=1), op(OP_EXPIRE), op(OP_FLUSH), op(OP_EXPIRE),
      txn_fault(commit=1), op(OP_REMOVE_MATCHING, 1, 3, 0), op(OP_FLUSH))
    w("txn-resume", T, submit(0, 0, 5), submit(0, 1, 6), pump(AUTH), op(OP_FLUSH),
      txn_fault(commit=1), op(OP_RESUME, 0), op(OP_FLUSH), op(OP_RESUME, 0), pump(OK, OK))
    w("txn-persistent", T, submit(0, 0, 5), txn_fault(every_commit=True), pump(OK),
      batch((0, 1, 1), (0, 2, 2)), op(OP_BEGIN), submit(1, 0, 1), commit(), op(OP_FLUSH),
      txn_fault(), op(OP_FLUSH))
    w("txn-v1-and-none", cfg(v1=True), op(OP_BEGIN), submit(0, 0, 1), commit(fail=True),
      batch((0, 1, 1), (0, 2, 2)), pump(OK, OK, OK))
    w("txn-no-storage", cfg(storage=False), op(OP_BEGIN), submit(0, 0, 1), pump(OK),
      commit(fail=True), pump(OK))
    w("txn-alloc", T, op(OP_POLICY, 0, 5, 0, 0), op(OP_BEGIN), op(OP_FAULT_ALLOC, 0xe0),
      submit(0, 0, 2), op(OP_FAULT_ALLOC, 0), submit(0, 1, 1), commit(fail=True),
      op(OP_FAULT_ALLOC, 1), txn_fault(commit=1), batch((0, 2, 1), (0, 3, 2)))

    # What the marketplace shows (stg_log_observe()) and message rules.
    w("observe-basic", cfg(), submit(0, 0, 10), pump(OK), observe(0, 0, qty=0),
      observe(0, 0, qty=2), observe(0, 0, qty=2), pump(OK), observe(0, 0, qty=1),
      observe(0, 0, qty=4, at=1), observe(0, 0, qty=4, at=3), pump(ASYNC),
      observe(0, 0, qty=4), complete(0, OK), observe(0, 1), op(OP_FLUSH))
    w("observe-missing", cfg(cat=1), submit(1, 0, 5), pump(OK), observe(1, 0, flags=1),
      observe(1, 0, flags=1), pump(OK), op(OP_CATALOGUED, key(1, 0)), pump(OK),
      submit(1, 1, 3), observe(1, 1, flags=1), clock(T1S), pump(NOTCAT),
      submit(2, 0, 1), pump(AUTH), observe(2, 0, flags=1), op(OP_RESUME, 2),
      observe(2, 0, flags=1), op(OP_REOPEN, 1), pump(OK, OK))
    w("observe-bad", cfg(), submit(0, 0, 3), pump(OK), observe(0, 0, qty=5),
      observe(0, 0, at=6), observe(0, 0, flags=2), observe(0, 0, flags=3),
      *[observe(0, 0, qty=2, bad=n) for n in range(1, 7)], observe(0, 3, qty=2),
      op(OP_FAULT_STORAGE, 0x01), observe(0, 0, qty=2), op(OP_FAULT_ALLOC, 0),
      observe(0, 0, qty=2), observe(0, 0, qty=2), op(OP_FLUSH))
    w("observe-txn", cfg(txn=True), submit(0, 0, 3), submit(0, 1, 4), pump(OK, OK),
      op(OP_BEGIN), observe(0, 0, qty=2), observe(0, 1, flags=1), submit(0, 2, 1),
      commit(), pump(OK, OK), op(OP_BEGIN), observe(0, 0, qty=3), submit(1, 0, 2),
      commit(), op(OP_BEGIN), submit(1, 0, 3), commit(fail=True), op(OP_BEGIN),
      observe(0, 0, qty=4), op(OP_REOPEN, 1), op(OP_FLUSH))
    w("observe-clock-back", cfg(), submit(0, 0, 3), clock(T1MIN), pump(OK),
      clock(T1S, back=True), observe(0, 0, qty=2), observe(0, 0, qty=2, at=4),
      op(OP_CLOCK, 0xe0), observe(0, 0, qty=6, at=7), pump(OK))
    w("rules-builtin", cfg(tries=2), *[submit(i, k, 5) for i in range(3) for k in range(5)],
      pump(*[msg(n) for n in range(1, 9)]), pump(*[msg(n) for n in range(8, 16)]),
      clock(T1H), op(OP_RESUME, 0), op(OP_RESUME, 1), op(OP_RESUME, 2),
      pump(msg(8), msg(9), msg(8), msg(9), OK, OK, OK, OK))
    w("rules-host", cfg(), rules(0, (4, 0, 1, False, 0), (2, 1, 3, False, 0)),
      rules(1, (1, 0, 8, False, 0), keep=True), rules(2, defaults=True),
      rules(0, (6, 4, 14, False, 0), defaults=True, after=True),
      *[submit(i, k, 5) for i in range(3) for k in range(4)],
      pump(msg(15), msg(6), msg(13), msg(3), msg(1), msg(11), msg(4), msg(12)),
      rules(1), pump(msg(3), msg(9), OK, OK), rules(0, (4, 0, 11, True, 0)),
      pump(msg(11), OK), op(OP_REOPEN, 1), pump(msg(15), msg(1), OK, OK))
    w("rules-bad", cfg(), rules(0, (0, 0, 1, False, 0)), rules(0, (7, 0, 1, False, 0)),
      rules(0, (2, 6, 1, False, 0)), rules(0, (2, 7, 1, False, 0)), rules(0, (2, 0, 9, False, 0)),
      rules(0, (2, 0, 10, False, 0)), rules(0, (2, 0, 11, False, 0)),
      rules(0, (2, 0, 1, False, 2)), rules(0, (2, 0, 1, False, 3)), rules(0, (2, 0, 1, False, 4)),
      rules(3, (2, 0, 1, False, 0)), rules(1, (2, 0, 1, False, 0), bad=5),
      rules(1, (2, 0, 1, False, 0), bad=6), rules(1, bad=7), op(OP_FAULT_ALLOC, 0),
      rules(2, (2, 0, 1, False, 0)), submit(0, 0, 1), pump(msg(15)))
    w("rules-observe-txn", cfg(txn=True, tries=1), rules(0, (6, 0, 7, False, 0)),
      submit(0, 0, 4), pump(msg(10)), observe(0, 0, qty=2), op(OP_BEGIN), rules(1, keep=True),
      observe(0, 0, qty=2), commit(), pump(msg(8)), observe(0, 0, qty=2), op(OP_FLUSH))


gen_replay()
gen_log()
