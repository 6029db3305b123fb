#!/usr/bin/env python3
"""Write a synthetic feed for stockguard-replay (Python 3.9+, standard library only).

    python3 examples/gen-feed.py --rows 1000000 --seed 7 -o build/feed-1m.csv

The feed (time,integration,sku,available,fields) follows a shop that syncs
one stock to several marketplaces:

- SKUs with long-tail demand: the k-th most popular sells about 1/k^1.1 as
  often as the first, so a few SKUs move all day and most barely move;
- each SKU is listed on some of the integrations (at least one); every stock
  change goes to each of them, the way a connector fans it out;
- sales of 1 to 3 units; now and then an oversell spike (a burst of orders
  the stock cannot cover, down to a negative available);
- restocks when the stock runs low, after a delay (so stock-outs last a
  while), and price changes (fields "price") with the stock unchanged;
- one row per (integration, SKU) at the start (first seen), then changes in
  time order over --hours hours from --start.

The same --seed and sizes give the same bytes on every Python 3.9+.
"""
import argparse
import random
import sys

INTEGRATIONS = ("amazon", "mercadolivre", "carrefour", "magalu", "shopee")


def positive(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %s" % text)
    return n


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=positive, default=100000, help="rows to write (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--skus", type=positive, default=0,
                    help="number of SKUs (default: rows / 200, at least 20)")
    ap.add_argument("--integrations", type=positive, default=3,
                    help="number of integrations, 1 to %d (default 3)" % len(INTEGRATIONS))
    ap.add_argument("--hours", type=positive, default=48, help="time covered (default 48)")
    ap.add_argument("--start", type=int, default=1769846400,
                    help="first time, seconds since the epoch (default 2026-01-31T08:00:00Z)")
    ap.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    a = ap.parse_args(argv)
    if a.integrations > len(INTEGRATIONS):
        ap.error("--integrations: at most %d" % len(INTEGRATIONS))
    if not a.skus:
        a.skus = max(20, a.rows // 200)
    return a


def generate(a, out):
    rnd = random.Random(a.seed)
    integ = INTEGRATIONS[:a.integrations]
    names = ["SKU-%06d" % i for i in range(a.skus)]
    # Long tail: weights 1/k^1.1, drawn through cumulative weights in batches.
    cum, total = [], 0.0
    for k in range(a.skus):
        total += 1.0 / (k + 1) ** 1.1
        cum.append(total)
    listed = []
    for _ in range(a.skus):
        on = [i for i in integ if rnd.random() < 0.7] or [rnd.choice(integ)]
        listed.append(on)
    stock = [rnd.randint(0, 60) for _ in range(a.skus)]
    restock_at = [0] * a.skus  # 0: no restock on the way
    t = a.start
    rows = 0
    buf = []

    def emit(i, fields):
        nonlocal rows
        line_tail = ",%s,%d,%s\n" % (names[i], stock[i], fields)
        for name in listed[i]:
            if rows >= a.rows:
                return
            buf.append("%d,%s%s" % (t, name, line_tail))
            rows += 1

    for i in range(a.skus):
        emit(i, "")
    span = a.hours * 3600
    while rows < a.rows:
        for i in rnd.choices(range(a.skus), cum_weights=cum, k=4096):
            if rows >= a.rows:
                break
            # Time follows the rows written, so the feed covers exactly --hours.
            t = a.start + span * rows // a.rows
            if restock_at[i] and t >= restock_at[i]:
                stock[i] = max(stock[i], 0) + rnd.randint(20, 80)
                restock_at[i] = 0
                emit(i, "")
                continue
            r = rnd.random()
            if r < 0.01:
                emit(i, "price")
                continue
            if stock[i] <= 0 and r > 0.05:
                continue  # sold out: most buyers find nothing to buy
            if r < 0.013 or stock[i] <= 0:
                stock[i] -= rnd.randint(5, 20)  # oversell spike: orders the stock cannot cover
            else:
                stock[i] -= min(stock[i], rnd.randint(1, 3))
            if stock[i] <= 3 and not restock_at[i]:
                restock_at[i] = t + rnd.randint(1800, 6 * 3600)
            emit(i, "")
        if len(buf) > 65536:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def main(argv):
    a = parse_args(argv)
    out = sys.stdout if a.output == "-" else open(a.output, "w", newline="\n")
    try:
        out.write("time,integration,sku,available,fields\n")
        generate(a, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
