#!/bin/sh
# Runs every test program and prints one closing line "N passed, N failed".
# Programs: $BUILD/tests/test_* (cmocka units), tests/e2e/*.sh, tests/tui/*.sh.
# ONLY=unit|e2e|tui restricts the set. Each script gets BUILD and KOMPRESS in its environment
# and reports by exit status: 0 pass, 77 skip (with a reason on stdout), anything else fail.
# Each program is stopped after TEST_TIMEOUT seconds (default 1200) and then counts as failed.
BUILD=${BUILD:-build}
KOMPRESS=$(cd "$(dirname "$0")/.." && pwd)/$BUILD/kompress
export BUILD KOMPRESS
pass=0; fail=0; skip=0; failed=""
log=$(mktemp -d)
run_one() {
  name=$1; shift
  start=$(date +%s)
  # (ci) a hung program fails after TEST_TIMEOUT seconds (default 1200) instead of blocking CI
  timeout -k 10 "${TEST_TIMEOUT:-1200}" "$@" >"$log/out" 2>&1
  rc=$?
  [ $rc -eq 124 ] && echo "timed out after ${TEST_TIMEOUT:-1200}s (TEST_TIMEOUT)" >>"$log/out"
  t=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS  $name (${t}s)"
  elif [ $rc -eq 77 ]; then skip=$((skip+1)); echo "SKIP  $name: $(tail -n 1 "$log/out")"
  else fail=$((fail+1)); failed="$failed $name"; echo "FAIL  $name (exit $rc, ${t}s)"; tail -n 40 "$log/out" | sed 's/^/      /'
  fi
}
if [ -z "$ONLY" ] || [ "$ONLY" = unit ]; then
  for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"; done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = e2e ]; then
  for t in tests/e2e/*.sh; do [ -f "$t" ] && run_one "e2e/$(basename "$t" .sh)" sh "$t"; done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = tui ]; then
  for t in tests/tui/*.sh; do [ -f "$t" ] && run_one "tui/$(basename "$t" .sh)" sh "$t"; done
fi
rm -rf "$log"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
