#!/usr/bin/env bash
# Runs summary_known under libheaplens.so with HEAPLENS_SUMMARY=1 and checks that every
# counter in heaplens's exit summary equals what the program computed it must be.
set -euo pipefail
fixture=$1
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
LD_PRELOAD="$LIBHEAPLENS" HEAPLENS_SUMMARY=1 "$fixture" >"$out" 2>"$err"
expect=$(grep '^expect ' "$out") || { echo "no expectation line"; cat "$out" "$err"; exit 1; }
summary=$(grep '^heaplens: summary ' "$err") || { echo "no summary line"; cat "$err"; exit 1; }
[ "$(grep -c '^heaplens: summary ' "$err")" = 1 ] || { echo "more than one summary line"; exit 1; }
echo "$expect"
echo "$summary"
status=0
for field in ${expect#expect }; do
  name=${field%%=*}
  if ! grep -qE "(^| )${field}( |$)" <<<"$summary"; then
    got=$(grep -oE "(^| )${name}=[0-9]+" <<<"$summary" | tr -d ' ')
    echo "MISMATCH: expected $field, heaplens said ${got:-nothing}"
    status=1
  fi
done
grep -q "backend=${HEAPLENS_ALLOCATOR:-jemalloc} " <<<"$summary" || { echo "wrong backend"; status=1; }
exit $status
