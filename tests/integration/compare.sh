#!/usr/bin/env bash
# compare.sh [--require PROG]... CMD [ARGS...]
#
# Runs CMD twice, each time in the same freshly created (empty) working directory with stdin
# from /dev/null: first without heaplens (LD_PRELOAD unset), then with
# LD_PRELOAD=$LIBHEAPLENS (HEAPLENS_ALLOCATOR and the rest of the environment pass through).
# Fails, with a unified diff on stderr, unless both runs print the same stdout and exit with
# the same code. Also fails if a run died by a signal, if the library could not be preloaded,
# or if the heaplens run's stderr has a "heaplens:" line other than the exit summary (a
# warning that should not appear). --require PROG: fail at once, with a clear message, if PROG
# is not installed. Relative paths in ARGS are relative to the fresh working directory.
set -euo pipefail

die() { echo "compare.sh: $*" >&2; exit 1; }

while [[ ${1-} == --require ]]; do
  [[ $# -ge 2 ]] || die "--require needs a program name"
  command -v "$2" >/dev/null || die "required program '$2' is not installed (scripts/setup installs it)"
  shift 2
done
[[ $# -ge 1 ]] || die "usage: compare.sh [--require PROG]... CMD [ARGS...]"

lib=${LIBHEAPLENS:-}
[[ $lib == /* ]] || die "LIBHEAPLENS must be the absolute path of libheaplens.so (it is '$lib')"
[[ -f $lib ]] || die "$lib does not exist (build first)"

cmd=$(type -P "$1") || die "'$1' is not an executable file or in PATH"
[[ $cmd == /* ]] || cmd=$PWD/$cmd  # we run it from another directory
shift

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heaplens-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cwd=$tmp/cwd

# run NAME ENV-ARGS...: one run in a fresh $cwd (same path both times, so outputs that show
# the path still match); leaves $tmp/NAME.out, NAME.err and NAME.rc.
run() {
  local name=$1 rc=0
  shift
  rm -rf "$cwd"
  mkdir "$cwd"
  (cd "$cwd" && exec env "$@" "$cmd" "${args[@]}") </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  echo "$rc" >"$tmp/$name.rc"
}

args=("$@")
run plain -u LD_PRELOAD
run heaplens LD_PRELOAD="$lib"

plain_rc=$(<"$tmp/plain.rc")
heaplens_rc=$(<"$tmp/heaplens.rc")
failed=0
fail() { echo "compare.sh: FAIL: $*" >&2; failed=1; }

if ! diff -u --label "stdout without heaplens" --label "stdout with heaplens" \
    "$tmp/plain.out" "$tmp/heaplens.out" >"$tmp/diff"; then
  fail "stdout differs:"
  cat "$tmp/diff" >&2
fi
[[ $plain_rc == "$heaplens_rc" ]] || fail "exit code $plain_rc without heaplens, $heaplens_rc with heaplens"
for name in plain heaplens; do
  rc=$(<"$tmp/$name.rc")
  if ((rc > 128 && rc <= 128 + 64)); then
    fail "the $name run died by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
  fi
done
if grep -q 'cannot be preloaded' "$tmp/heaplens.err"; then
  fail "the dynamic loader could not preload $lib"
fi
if grep '^heaplens:' "$tmp/heaplens.err" | grep -v '^heaplens: summary ' >"$tmp/warnings"; then
  fail "heaplens printed warnings:"
  cat "$tmp/warnings" >&2
fi

if ((failed)); then
  for name in plain heaplens; do
    echo "---- stderr of the $name run (last 40 lines) ----" >&2
    tail -n 40 "$tmp/$name.err" >&2
  done
  exit 1
fi
echo "compare.sh: ok: $cmd${args[*]+ ${args[*]}}: exit $plain_rc, $(wc -l <"$tmp/plain.out") identical stdout lines" \
  "(HEAPLENS_ALLOCATOR=${HEAPLENS_ALLOCATOR-unset})"
