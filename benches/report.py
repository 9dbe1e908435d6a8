#!/usr/bin/env python3
"""Reads criterion's results (target/criterion) and prints the BENCHMARKS.md tables:
medians per operation, adapter and size, and ratios measured in the same run."""
import json, os, sys, glob

root = os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
med = {}  # (op, adapter, n) -> median ns
for est in glob.glob(os.path.join(root, "*", "*", "new", "estimates.json")):
    parts = est.split(os.sep)
    group, n = parts[-4], parts[-3]
    if "_" not in group or not n.isdigit():
        continue
    bench = json.load(open(os.path.join(os.path.dirname(est), "benchmark.json")))
    fid = bench.get("function_id") or bench.get("group_id")
    op, _, adapter = bench["group_id"].partition("/") if "/" in bench["group_id"] else (None, None, None)
    if op is None:
        continue
    med[(op, adapter, int(n))] = json.load(open(est))["median"]["point_estimate"]

def us(ns):
    return f"{ns/1000:.1f} µs" if ns < 1e6 else f"{ns/1e6:.2f} ms"

sizes = sorted({k[2] for k in med})
ops = ["get", "get_whole", "route_exact", "route_subdomain", "list_org_page", "update", "create",
       "create_metadata", "sign_in"]
adapters = ["memory", "sqlite", "sqlite_threads", "sqlite_inline", "sled", "sled_flush"]
print("### Medians\n")
print("| operation | " + " | ".join(f"{a} {n:,}" for n in sizes for a in adapters) + " |")
print("| --- | " + " | ".join("---" for _ in sizes for _ in adapters) + " |")
for op in ops:
    cells = [us(med[(op, a, n)]) if (op, a, n) in med else "–" for n in sizes for a in adapters]
    print(f"| {op} | " + " | ".join(cells) + " |")
print("\n### Floors (raw engine, same run)\n")
print("| floor | " + " | ".join(f"{n:,}" for n in sizes) + " |")
print("| --- | " + " | ".join("---" for _ in sizes) + " |")
for floor in ["get/raw_sqlite", "get/raw_sqlite_same_file", "write/raw_sqlite", "write/raw_sqlite_same_file",
              "get/raw_sled", "get/raw_sled_same_tree", "write/raw_sled", "write/raw_sled_same_tree",
              "get/raw_sled_same_tree_flush", "write/raw_sled_same_tree_flush"]:
    op, a = floor.split("/")
    print(f"| {floor} | " + " | ".join(us(med[(op, a, n)]) if (op, a, n) in med else "–" for n in sizes) + " |")

print("\n### Ratios (same run)\n")
print("| ratio | target | " + " | ".join(f"{n:,}" for n in sizes) + " |")
print("| --- | --- | " + " | ".join("---" for _ in sizes) + " |")
def row(label, target, f):
    vals = []
    for n in sizes:
        try:
            vals.append(f"{f(n):.2f}×")
        except KeyError:
            vals.append("–")
    print(f"| {label} | {target} | " + " | ".join(vals) + " |")
# Default mode of each store against the raw engine on the same file or tree, measured
# right after it (interleaved); durable modes only against durable floors.
row("SqliteRepo get / raw get on its own file", "≤ 1.2×", lambda n: med[("get", "sqlite", n)] / med[("get", "raw_sqlite_same_file", n)])
row("SqliteRepo update / raw write on its own file (FULL)", "≤ 1.3×", lambda n: med[("update", "sqlite", n)] / med[("write", "raw_sqlite_same_file", n)])
row("SledRepo get / raw get on its own tree", "≤ 1.2×", lambda n: med[("get", "sled", n)] / med[("get", "raw_sled_same_tree", n)])
row("SledRepo update / raw write on its own tree (no flush)", "≤ 1.3×", lambda n: med[("update", "sled", n)] / med[("write", "raw_sled_same_tree", n)])
row("SledRepo flush-on-write update / raw write + flush", "≤ 1.3×", lambda n: med[("update", "sled_flush", n)] / med[("write", "raw_sled_same_tree_flush", n)])
row("SqliteRepo get (whole store) / get (hot 1,000)", "–", lambda n: med[("get_whole", "sqlite", n)] / med[("get", "sqlite", n)])
row("SledRepo get (whole store) / get (hot 1,000)", "–", lambda n: med[("get_whole", "sled", n)] / med[("get", "sled", n)])
for a, floor in [("sqlite", "raw_sqlite"), ("sled", "raw_sled")]:
    row(f"{a} route_exact / raw get at the same size", "flat", lambda n, a=a, f=floor: med[("route_exact", a, n)] / med[("get", f, n)])
for f in ["raw_sqlite", "raw_sled"]:
    row(f"{f} get: n / {min(sizes):,} (the engine's own growth)", "–", lambda n, f=f: med[("get", f, n)] / med[("get", f, min(sizes))])
small = min(sizes)
for a in adapters:
    for op in ["route_exact", "route_subdomain", "get"]:
        row(f"{a} {op}: n / {small:,}", "≤ 1.5×", lambda n, a=a, op=op: med[(op, a, n)] / med[(op, a, small)])
