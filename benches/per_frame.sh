#!/usr/bin/env bash
# Instructions per frame for each workload of benches/per_frame.rs, counted
# by callgrind: (instructions for 10 n frames - for n frames) / 9 n, so
# start-up costs cancel. Exact and repeatable, unlike timings.
# Usage: benches/per_frame.sh [n]   (default n = 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
bin=$(cargo bench --bench per_frame --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "per_frame" and m.get("executable"):
        print(m["executable"])')
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for w in ${WORKLOADS:-decode decode_slice frames walker encode read tokio_decode tokio_encode tokio_read}; do
  small=$(count "$w" "$n")
  big=$(count "$w" $((10 * n)))
  python3 -c "print(f'$w: {($big - $small) / (9 * $n):.1f} instructions per frame')"
done
