#!/usr/bin/env bash
# make fuzz: runs every fuzz target for N seconds with its seed corpus (fuzz/corpus/<target>/) and
# dictionary (fuzz/<target>.dict), JOBS targets at a time (each a single process on its own core, so each
# still gets its N seconds). A crash fails the run; its input is saved under <build>/crashes/.
# Every crash found becomes a regression input in fuzz/corpus/<target>/ (the corpus is replayed first).
# Usage: fuzz/run_all.sh BUILD_DIR [SECONDS_EACH] [JOBS]
set -u
BUILD=${1:-build-asan}; SECONDS_EACH=${2:-30}; JOBS=${3:-$(nproc)}
cd "$(dirname "$0")/.."
mkdir -p "$BUILD/crashes"
targets=()
for bin in "$BUILD"/*_fuzz; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  if grep -qx "$name" fuzz/KNOWN_FAILING 2>/dev/null; then
    echo "fuzz $name: SKIPPED (open bugs listed in fuzz/KNOWN_FAILING)"
    continue
  fi
  targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets in $BUILD (they need clang: configure with -DWAITLESS_FUZZ=ON, as make asan does)"
  exit 1
fi

# One target: its report goes to $BUILD/<name>.result (first line ok|FAILED, then what to print).
fuzz_one() {
  local name=$1 bin=$BUILD/$1 corpus=fuzz/corpus/$1 work=$BUILD/corpus/$1 result=$BUILD/$1.result
  mkdir -p "$corpus" "$work"
  local dict=(); [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$bin" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD/crashes/$name-" -print_final_stats=0 "$work" "$corpus" >"$BUILD/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'cov: [0-9]*' "$BUILD/$name.log" | tail -1), $(grep -c . "$BUILD/$name.log") log lines)" >"$result"
  else
    {
      echo "fuzz $name: FAILED, see $BUILD/$name.log"
      # What broke (sanitizer report or the target's own invariant message), then the input that did it.
      grep -m8 -E 'invariant broken|diverges|whole:|split:|ERROR: |runtime error:|SUMMARY: |in LLVMFuzzerTestOneInput|#[0-9]+ .* in waitless::' \
        "$BUILD/$name.log" | cut -c1-300
      grep -E '^(artifact_prefix=|Base64:)' "$BUILD/$name.log" | tail -2
    } >"$result"
  fi
}

running=0
for name in "${targets[@]}"; do
  rm -f "$BUILD/$name.result"
  fuzz_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
pass=0; fail=0
for name in "${targets[@]}"; do
  if [ -f "$BUILD/$name.result" ]; then
    cat "$BUILD/$name.result"
    if head -1 "$BUILD/$name.result" | grep -q ': ok ('; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
  else
    echo "fuzz $name: FAILED (no result: the runner died)"
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
