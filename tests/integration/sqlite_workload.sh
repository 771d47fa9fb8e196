#!/usr/bin/env bash
# A deterministic sqlite3 session in the current (fresh, empty) directory, for compare.sh:
# 100,000 INSERT statements in one transaction into a new database file, then queries
# (count, group by, order by + limit, an index, a join).
set -euo pipefail
export LC_ALL=C HOME=$PWD  # no ~/.sqliterc

awk 'BEGIN {
  print "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, grp INTEGER, score REAL, note TEXT);"
  print "CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT);"
  print "BEGIN;"
  x = 12345
  for (i = 1; i <= 100000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    printf "INSERT INTO item(name, grp, score, note) VALUES (%cname-%06d%c, %d, %d.%02d, %c%s%c);\n",
      39, x % 1000000, 39, x % 37, x % 1000, i % 100, 39, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26, 1 + x % 20), 39
  }
  for (g = 0; g < 37; g++) printf "INSERT INTO grp VALUES (%d, %cgroup %02d%c);\n", g, 39, g, 39
  print "COMMIT;"
}' >load.sql

sqlite3 -batch -bail test.db <load.sql
sqlite3 -batch -bail test.db <<'EOF'
.headers on
.mode list
SELECT count(*) AS n, sum(length(note)) AS note_chars, round(sum(score), 2) AS total FROM item;
SELECT grp, count(*), round(avg(score), 3), min(name), max(name) FROM item GROUP BY grp ORDER BY grp LIMIT 8;
SELECT id, name, score FROM item ORDER BY score DESC, id LIMIT 10;
CREATE INDEX item_name ON item(name);
CREATE INDEX item_grp_score ON item(grp, score);
SELECT count(*) FROM item WHERE name BETWEEN 'name-100000' AND 'name-200000';
SELECT id, name FROM item WHERE name >= 'name-500000' ORDER BY name, id LIMIT 5;
SELECT g.label, count(*) AS n, round(max(i.score), 2) FROM item i JOIN grp g ON g.id = i.grp
  WHERE i.score > 500 GROUP BY g.label ORDER BY n DESC, g.label LIMIT 10;
SELECT note, count(*) FROM item GROUP BY note ORDER BY count(*) DESC, note LIMIT 5;
SELECT count(DISTINCT name), count(DISTINCT note) FROM item;
UPDATE item SET note = note || '-updated' WHERE grp = 5;
DELETE FROM item WHERE grp = 7;
SELECT count(*), sum(note LIKE '%-updated') FROM item;
PRAGMA integrity_check;
EOF
