#!/usr/bin/env python3
"""What one more row per transaction costs raw SQLite (no library involved).

Single-row UPDATE transactions on a 10,000-row table (WAL, synchronous = FULL, the
adapter's durability), with and without an event row inserted in the same transaction,
for two record/event sizes. Prints transactions per second per case, two rounds.

    python3 benches/raw/event_cost.py [directory=target/bench-data] [seconds=3]
"""
import os
import random
import sqlite3
import sys
import time


def setup(path, record, rows=10_000):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA synchronous = FULL")
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, rec BLOB)")
    c.execute("CREATE TABLE ev (pos INTEGER PRIMARY KEY, at INTEGER, rec BLOB)")
    c.execute("BEGIN")
    for i in range(rows):
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (i, 0, os.urandom(record)))
    c.execute("COMMIT")
    return c


def run(c, record, event, secs):
    pos = done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < secs:
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE t SET v = v + 1, rec = ? WHERE id = ?",
                  (os.urandom(record), random.randrange(10_000)))
        if event:
            pos += 1
            c.execute("INSERT INTO ev VALUES (?, ?, ?)", (pos, 0, os.urandom(event)))
        c.execute("COMMIT")
        done += 1
    return done / (time.perf_counter() - t0)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/bench-data"
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "event-cost.db")
    for rnd in range(2):
        for record, event in [(1720, 0), (1720, 2000), (500, 0), (500, 600)]:
            c = setup(path, record)
            rate = run(c, record, event, secs)
            c.close()
            print(f"round {rnd}: record {record} B, event {event} B: {rate:.0f} tx/s", flush=True)


if __name__ == "__main__":
    main()
