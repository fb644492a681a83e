#!/usr/bin/env bash
# make fuzz: runs every fuzz target for N seconds with its seed corpus (fuzz/corpus/<target>/) and
# dictionary (fuzz/<target>.dict). A crash fails the run; its input is saved under build-fuzz/crashes/.
# Every crash found becomes a regression input in fuzz/corpus/<target>/ (the corpus is replayed first).
set -u
BUILD=${1:-build-fuzz}; SECONDS_EACH=${2:-30}
cd "$(dirname "$0")/.."
mkdir -p "$BUILD/crashes"
pass=0; fail=0
for bin in "$BUILD"/*_fuzz; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  if grep -qx "$name" fuzz/KNOWN_FAILING 2>/dev/null; then
    echo "fuzz $name: SKIPPED (open bugs listed in fuzz/KNOWN_FAILING)"
    continue
  fi
  corpus=fuzz/corpus/$name; work=$BUILD/corpus/$name
  mkdir -p "$corpus" "$work"
  dict=(); [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$bin" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD/crashes/$name-" -print_final_stats=0 "$work" "$corpus" >"$BUILD/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'cov: [0-9]*' "$BUILD/$name.log" | tail -1), $(grep -c . "$BUILD/$name.log") log lines)"
    pass=$((pass + 1))
  else
    echo "fuzz $name: FAILED, see $BUILD/$name.log"
    # What broke (sanitizer report or the target's own invariant message), then the input that did it.
    grep -m8 -E 'invariant broken|diverges|whole:|split:|ERROR: |runtime error:|SUMMARY: |in LLVMFuzzerTestOneInput|#[0-9]+ .* in waitless::' \
      "$BUILD/$name.log" | cut -c1-300
    grep -E '^(artifact_prefix=|Base64:)' "$BUILD/$name.log" | tail -2
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
