#!/usr/bin/env bash
# Malformed settings: the program still runs with its own output and exit code, and heaplens
# says exactly one line per problem on stderr.
set -euo pipefail
fail() { echo "FAIL: ${*:0:200}"; exit 1; }

check() {  # check EXPECTED_LINES PATTERN VAR=VALUE...
  local lines=$1 pattern=$2
  shift 2
  local out err status=0
  out=$(mktemp) err=$(mktemp)
  env "$@" LD_PRELOAD="$LIBHEAPLENS" sh -c 'echo hello; exit 7' >"$out" 2>"$err" || status=$?
  [[ $status == 7 ]] || fail "$* : exit status $status, expected 7"
  [[ $(cat "$out") == hello ]] || fail "$* : stdout changed: $(cat "$out")"
  local n
  n=$(grep -c '^heaplens: ' "$err" || true)
  [[ $n == "$lines" ]] || { cat "$err"; fail "$* : $n heaplens lines on stderr, expected $lines"; }
  [[ $lines == 0 ]] || grep -qE "$pattern" "$err" || { cat "$err"; fail "$* : no line matching $pattern"; }
  local what="$*"
  echo "ok: ${what:0:80} -> $(head -n 1 "$err")"
  rm -f "$out" "$err"
}

check 1 "HEAPLENS_ALLOCATOR='tcmalloc' is not jemalloc or system; using jemalloc" HEAPLENS_ALLOCATOR=tcmalloc
check 1 "HEAPLENS_LARGE_THRESHOLD='-5'" HEAPLENS_LARGE_THRESHOLD=-5
check 1 "HEAPLENS_LARGE_THRESHOLD='99999999999999999999G'" HEAPLENS_LARGE_THRESHOLD=99999999999999999999G
check 1 "HEAPLENS_SUMMARY='perhaps'" HEAPLENS_SUMMARY=perhaps
check 1 "unknown setting HEAPLENS_ALOCATOR ignored" HEAPLENS_ALOCATOR=system
check 2 "HEAPLENS_ALLOCATOR=.*HEAPLENS_SUMMARY|HEAPLENS_ALLOCATOR" HEAPLENS_ALLOCATOR=x HEAPLENS_SUMMARY=x
check 1 "HEAPLENS_ALLOCATOR='x{44}\.\.\.'" HEAPLENS_ALLOCATOR="$(head -c 5000 /dev/zero | tr '\0' x)"
check 0 "" HEAPLENS_ALLOCATOR=SYSTEM HEAPLENS_LARGE_THRESHOLD=1MiB HEAPLENS_SUMMARY=off
echo "all malformed settings handled"
