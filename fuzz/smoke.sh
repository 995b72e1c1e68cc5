#!/usr/bin/env bash
# Runs every fuzz target for a few seconds (default 5; `fuzz/smoke.sh 60`
# for longer) from the corpus in fuzz/corpus/<target>/, so a crash on the
# kept inputs or close to them fails CI. New inputs go to a temporary
# directory: the kept corpus changes only by hand (`cargo fuzz cmin`).
# One process per target (libFuzzer's default; -jobs=N would fork workers).
# Needs a nightly toolchain and cargo-fuzz; .ci/run calls it when both are
# there. A crash leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# -a: debug assertions and overflow checks, as in `cargo test`.
cargo +nightly fuzz build -a -O

targets=$(cargo +nightly fuzz list)
for target in $targets; do
  mkdir -p "$work/$target"
  printf '==> fuzz %s for %ss\n' "$target" "$seconds"
  status=0
  cargo +nightly fuzz run -a -O "$target" "$work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    >"$work/$target.log" 2>&1 || status=$?
  # libFuzzer is chatty: its figures only, and the whole log on a failure.
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/$target.log" || true
  if ((status != 0)); then
    cat "$work/$target.log" >&2
    echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz smoke run: every target ran ${seconds}s without a crash"
