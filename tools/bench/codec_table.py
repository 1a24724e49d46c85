#!/usr/bin/env python3
"""Prints the `codec` criterion group as a Markdown table: rkafka beside kafka-protocol
from the same run, with the ratio, and batch decode against the memcpy+CRC32C floor.

Usage: python3 tools/bench/codec_table.py [target/criterion]   (after `just bench`)
"""
import json
import os
import sys

root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "target/criterion", "codec")
OPS = [f"batch_{d}_{c}" for c in ("none", "gzip", "snappy", "lz4", "zstd") for d in ("encode", "decode")]
OPS += ["produce_encode", "fetch_decode"]


def median_ns(op, impl):
    path = os.path.join(root, f"{op}_{impl}", "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.1f} µs" if ns < 1e6 else f"{ns / 1e6:.2f} ms"


print("| op | rkafka | kafka-protocol | kafka-protocol / rkafka |")
print("|---|---:|---:|---:|")
for op in OPS:
    ours, theirs = median_ns(op, "rkafka"), median_ns(op, "kafka-protocol")
    print(f"| `{op}` | {fmt(ours)} | {fmt(theirs)} | {theirs / ours:.2f}× |")
ours = median_ns("batch_decode_none", "rkafka")
for impl, what in (("memcpy+crc32c", "the CRC32C our decoder uses (crc-fast)"),
                   ("memcpy+crc32c-crate", "the crc32c crate's CRC32C")):
    try:
        floor = median_ns("batch_decode_none", impl)
    except FileNotFoundError:
        continue
    print(f"\nmemcpy + {what} of the same batch: {fmt(floor)}; "
          f"uncompressed decode runs at {100 * floor / ours:.0f}% of that speed.")
