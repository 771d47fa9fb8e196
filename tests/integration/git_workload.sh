#!/usr/bin/env bash
# A deterministic git session in the current (fresh, empty) directory, for compare.sh: init,
# several commits with fixed dates (stable hashes), log, show --stat, diff. No global or system
# configuration is read: HOME and XDG_CONFIG_HOME point into the directory.
set -euo pipefail
export LC_ALL=C TZ=UTC HOME=$PWD/home XDG_CONFIG_HOME=$PWD/home/.config
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$HOME/.gitconfig GIT_PAGER=cat PAGER=cat
export GIT_AUTHOR_NAME="Heap Lens" GIT_AUTHOR_EMAIL=heaplens@example.com
export GIT_COMMITTER_NAME="Heap Lens" GIT_COMMITTER_EMAIL=heaplens@example.com
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY
mkdir -p "$HOME"

git init -q -b main repo
cd repo
git config user.name "Heap Lens"
git config user.email heaplens@example.com
git config gc.auto 0
git config core.autocrlf false

n=0
commit() {  # commit MESSAGE: everything in the tree, at a fixed, increasing date
  n=$((n + 1))
  local date="2024-01-0${n}T12:00:00 +0000"
  git add -A
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git commit -q -m "$1"
  git tag "c$n"
}

# Files of different sizes; numbers from awk so that no timing or locale enters them.
mkdir -p src docs
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "line %d: %x %s\n", i, i * 7919, (i % 3 ? "foo" : "bar") }' >src/big.txt
for i in 1 2 3 4 5 6 7 8; do
  awk -v k="$i" 'BEGIN { for (j = 1; j <= 40 * k; j++) printf "int f%d_%d(void) { return %d; }\n", k, j, j * k }' >"src/mod$i.c"
done
printf '# heaplens test repository\n\nSome text.\n' >README.md
commit "Initial import"

sed -i 's/foo/FOO/; 100,200d' src/big.txt
printf 'More text.\n' >>README.md
printf 'Documentation %d\n' 1 2 3 >docs/guide.md
commit "Edit big.txt, add docs"

git mv src/mod1.c src/renamed.c
git rm -q src/mod2.c
awk 'BEGIN { for (i = 1; i <= 500; i++) print "new", i }' >src/new.txt
commit "Rename, remove, add"

git checkout -q -b topic
printf 'topic change\n' >>src/mod3.c
commit "Topic work"
git checkout -q main
printf 'main change\n' >>src/mod4.c
commit "Main work"
GIT_COMMITTER_DATE="2024-01-09T12:00:00 +0000" GIT_AUTHOR_DATE="2024-01-09T12:00:00 +0000" \
  git merge -q --no-edit topic

echo "== log"
git log --graph --format='%H %an <%ae> %ad %s' --date=iso-strict
echo "== show --stat"
git show --stat --format='%H%n%s' HEAD~1
echo "== diff c1..c3"
git diff c1 c3 -- README.md src/mod1.c src/renamed.c docs
echo "== diff c1..c2 big.txt"
git diff -U1 c1 c2 -- src/big.txt >../big.diff  # no pipe into head: git could die of SIGPIPE
sed -n '1,30p;$p' ../big.diff
md5sum <../big.diff
echo "== diff --stat"
git diff --stat -M c1 HEAD
echo "== ls-tree"
git ls-tree -r --long HEAD
echo "== rev-list"
git rev-list --count HEAD
git cat-file -p HEAD
echo "== status"
git status --porcelain=v1 --branch
echo "== blame"
git blame -s -L 1,5 README.md
git fsck --strict --no-progress 2>&1
echo "== done"
