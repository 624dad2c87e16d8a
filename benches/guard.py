#!/usr/bin/env python3
"""Regression guard for the hot loops: instructions per 16-byte frame,
counted by callgrind, as a ratio to tokio-util's count for the same shape
measured in the same run (so a new rustc or a new tokio-util moves both
sides), compared with the ratios in benches/guard-baseline.json. Fails when
a ratio rises more than the baseline's tolerance (10 %). Deterministic: no
timings, so a busy machine cannot fool it.

    benches/guard.py            # check (a few seconds after the build)
    benches/guard.py --update   # record the current ratios as the baseline

Pairs (workloads of benches/per_frame.rs):
  decode  FrameDecoder::decode over a BytesMut  vs  LengthDelimitedCodec::decode, same buffer
  encode  Codec::encode into a reused BytesMut  vs  Encoder<&[u8]>::encode, same buffer
  encode_rt  the same, both codecs configured at run time (lenframe's parsed from a
          string the compiler cannot see, tokio-util's through its builder)
  read    FrameReader::read_frame_ref, &[u8]    vs  FramedRead over a &[u8], Stream polled directly

Per frame = (count for 10 n frames - count for n frames) / 9 n, so start-up
costs cancel.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benches" / "guard-baseline.json"
PAIRS = [
    ("decode", "decode", "tokio_decode"),
    ("encode", "encode", "tokio_encode"),
    ("encode_rt", "encode_rt", "tokio_encode_rt"),
    ("read", "read", "tokio_read"),
]
N = 20 * 1024  # whole rounds of 1024 frames


def per_frame_binary():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "per_frame", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ).stdout
    for line in out.splitlines():
        m = json.loads(line)
        if (m.get("reason") == "compiler-artifact" and m["target"]["name"] == "per_frame"
                and m.get("executable")):
            return m["executable"]
    sys.exit("guard: cargo built no per_frame bench binary")


def instructions(binary, workload, n):
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, workload, str(n)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    m = re.search(r"Collected : (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"guard: callgrind failed on {workload} {n}:\n{r.stdout}")
    return int(m.group(1))


def per_frame(binary, workload):
    return (instructions(binary, workload, 10 * N) - instructions(binary, workload, N)) / (9 * N)


def main():
    update = "--update" in sys.argv[1:]
    binary = per_frame_binary()
    measured = {}
    for name, ours, theirs in PAIRS:
        a, b = per_frame(binary, ours), per_frame(binary, theirs)
        measured[name] = {"lenframe": round(a, 1), "tokio_util": round(b, 1), "ratio": round(a / b, 4)}
    if update:
        doc = {
            "about": "instructions per 16 B frame (callgrind), lenframe / tokio-util, "
                     "same run; written by benches/guard.py --update",
            "tolerance": 0.10,
            "ratios": {k: v["ratio"] for k, v in measured.items()},
            "counts_when_recorded": {k: {"lenframe": v["lenframe"], "tokio_util": v["tokio_util"]}
                                     for k, v in measured.items()},
        }
        BASELINE.write_text(json.dumps(doc, indent=2) + "\n")
    base = json.loads(BASELINE.read_text())
    tol = base["tolerance"]
    failed = []
    missing = []
    print("instructions per 16 B frame (callgrind); ratio = lenframe / tokio-util")
    print(f"{'':10}{'lenframe':>10}{'tokio-util':>12}{'ratio':>8}{'baseline':>10}")
    for name, m in measured.items():
        if name not in base["ratios"]:
            print(f"{name:<10}{m['lenframe']:>10.1f}{m['tokio_util']:>12.1f}"
                  f"{m['ratio']:>8.3f}{'-':>10}  FAIL: no baseline: record it with --update")
            missing.append(name)
            continue
        ref = base["ratios"][name]
        limit = ref * (1 + tol)
        if m["ratio"] > limit:
            verdict = f"FAIL: above {limit:.3f} (baseline + {tol:.0%})"
            failed.append(name)
        elif m["ratio"] < ref / (1 + tol):
            verdict = "ok, faster than the baseline: record it with --update"
        else:
            verdict = "ok"
        print(f"{name:<10}{m['lenframe']:>10.1f}{m['tokio_util']:>12.1f}"
              f"{m['ratio']:>8.3f}{ref:>10.3f}  {verdict}")
    if missing:
        print(f"guard: no baseline for {', '.join(missing)} in {BASELINE.relative_to(ROOT)}")
        return 1
    if failed:
        print(f"guard: instruction-count regression in {', '.join(failed)} "
              f"(ratios to tokio-util rose more than {tol:.0%} over {BASELINE.relative_to(ROOT)})")
        return 1
    print("guard: " + ("baseline recorded" if update else "no instruction-count regression"))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
