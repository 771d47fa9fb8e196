#!/usr/bin/env bash
# summary_fork_exec.sh FORK_EXEC: runs the fork_exec fixture under LD_PRELOAD=$LIBHEAPLENS with
# HEAPLENS_SUMMARY=1 and checks that the parent, the forked child and the exec'ed program
# (three distinct pids, which the fixture names on stderr) each printed exactly one
# "heaplens: summary pid=..." line with the requested backend, and no other heaplens line.
set -euo pipefail
fixture=$(realpath "$1")
lib=${LIBHEAPLENS:-}
[[ $lib == /* && -f $lib ]] || { echo "LIBHEAPLENS must be the absolute path of libheaplens.so" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rc=0
(cd "$tmp" && LD_PRELOAD=$lib HEAPLENS_SUMMARY=1 exec "$fixture") </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
show() { echo "---- stdout"; cat "$tmp/out"; echo "---- stderr"; cat "$tmp/err"; } >&2
[[ $rc == 0 ]] || { echo "FAIL: fork_exec exited with $rc" >&2; show; exit 1; }

pids=$(grep -oE '^fork_exec: pids parent=[0-9]+ fork_child=[0-9]+ exec_child=[0-9]+$' "$tmp/err") ||
  { echo "FAIL: fork_exec did not name its pids" >&2; show; exit 1; }
pid_of() { sed -E "s/.* $1=([0-9]+).*/\1/" <<<"$pids"; }
parent=$(pid_of parent) fork_child=$(pid_of fork_child) exec_child=$(pid_of exec_child)
echo "parent=$parent fork_child=$fork_child exec_child=$exec_child"
if [[ $parent == "$fork_child" || $parent == "$exec_child" || $fork_child == "$exec_child" ]]; then
  echo "FAIL: pids are not distinct" >&2
  exit 1
fi

status=0
backend=${HEAPLENS_ALLOCATOR:-jemalloc}
for who in parent fork_child exec_child; do
  pid=${!who}
  lines=$(grep -c "^heaplens: summary pid=$pid " "$tmp/err" || true)
  if [[ $lines != 1 ]]; then
    echo "FAIL: $lines summary lines for the $who (pid $pid), expected 1" >&2
    status=1
  elif ! grep -q "^heaplens: summary pid=$pid backend=$backend " "$tmp/err"; then
    echo "FAIL: the $who's summary does not say backend=$backend" >&2
    status=1
  else
    grep "^heaplens: summary pid=$pid " "$tmp/err"
  fi
done
if grep '^heaplens:' "$tmp/err" | grep -v '^heaplens: summary pid=[0-9]* ' >&2; then
  echo "FAIL: heaplens printed other lines (above)" >&2
  status=1
fi
total=$(grep -c '^heaplens: summary ' "$tmp/err" || true)
echo "$total summary lines in all (the forks during busy allocation exit normally too)"
((status == 0)) || show
exit $status
