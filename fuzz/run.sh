#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), installing
# cargo-fuzz if needed. Needs the nightly toolchain. Not part of .ci/run.
# New corpus entries land in fuzz/corpus/<target>; minimise them with
#   cargo +nightly fuzz cmin <target>
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for target in decode reader round_trip; do
  mkdir -p "corpus/$target"
  echo "== $target for ${secs}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$secs" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 25
done
