#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), installing
# cargo-fuzz if needed. Needs the nightly toolchain. Not part of .ci/run.
# New corpus entries land in fuzz/corpus/<target>; minimise them with
#   cargo +nightly fuzz cmin <target> corpus/<target>
# A crash is saved under fuzz/artifacts/<target>/ and the other targets
# still run; the script then exits 1.
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("${@:-decode reader round_trip model}")
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz || exit 1
status=0
for target in ${targets[@]}; do
  mkdir -p "corpus/$target"
  echo "== $target for ${secs}s"
  log="$(mktemp)"
  if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    status=1
    grep -E "panicked|assert|left|right|crash-|Test unit written" "$log" | head -20
  fi
  grep -E "^Done|stat::number_of_executed_units|stat::new_units_added" "$log"
  rm -f "$log"
done
exit $status
