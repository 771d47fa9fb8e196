#!/usr/bin/env python3
"""End-to-end tests of the `heaplens` command: every bad input gives one line and a non-zero
exit (never a crash), exit statuses pass through, check's limits and suppressions, ls, record.
usage: cli_test.py --heaplens PATH --preload LIBHEAPLENS --fixture PATH --group NAME"""
import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

A = None
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def hl(*args, stdin=None, env=None, cwd=None, timeout=60):
    e = dict(os.environ, HEAPLENS_PRELOAD=A.preload)
    if env:
        e.update(env)
    return subprocess.run([A.heaplens, *args], input=stdin, capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=timeout)


def one_line_error(r, what, code=None):
    """A failure: a non-zero exit (the given one), no crash, one 'heaplens:' line on stderr."""
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode > 0, f"{what}: exit {r.returncode} (want a non-zero exit, not a signal)")
    if code is not None:
        check(r.returncode == code, f"{what}: exit {r.returncode}, want {code}; stderr: {r.stderr!r}")
    check(len(lines) >= 1 and lines[0].startswith("heaplens:"), f"{what}: stderr {r.stderr!r}")
    check(len(lines) <= 2, f"{what}: want one line, got {len(lines)}: {r.stderr!r}")


def group_usage(tmp):
    cases = [([], "no subcommand"), (["frobnicate"], "unknown subcommand"), (["run", "--bogus", "--", "true"], "unknown option"),
             (["run"], "run without a program"), (["check", "--max-leaked-bytes", "abc", "--", "true"], "bad number"),
             (["run", "--sample-interval", "12Q", "--", "true"], "bad size"), (["report"], "report without a file"),
             (["report", "--format", "xml", "x"], "bad format"), (["check", "--error-exitcode", "0", "--", "true"], "exit code 0")]
    for args, what in cases:
        one_line_error(hl(*args, cwd=tmp), what, 2)
    r = hl("--help")
    check(r.returncode == 0 and "run" in r.stdout and "check" in r.stdout, f"--help: {r.returncode} {r.stdout[:200]!r}")
    check(hl("--version").stdout.startswith("heaplens "), "--version")


def group_run_errors(tmp):
    one_line_error(hl("run", "--", "/nonexistent/prog", cwd=tmp), "missing program", 127)
    one_line_error(hl("run", "--", "/etc/passwd", cwd=tmp), "not executable", 126)
    one_line_error(hl("check", "--", "/nonexistent/prog", cwd=tmp), "check: missing program", 127)
    check(not glob.glob(os.path.join(tmp, "*.trace")), f"a trace was left behind: {os.listdir(tmp)}")
    marker = os.path.join(tmp, "ran")
    for args, what in [(["run", "-o", "/proc/nonexistent/t.trace"], "unwritable trace"),
                       (["check", "--json", "/proc/nonexistent/x.json"], "unwritable json"),
                       (["check", "--junit", os.path.join(tmp, "no-dir", "x.xml")], "unwritable junit"),
                       (["check", "--suppressions", "/nonexistent.supp"], "missing suppressions")]:
        one_line_error(hl(*args, "--", A.fixture, "marker", marker, cwd=tmp), what, 125)
        check(not os.path.exists(marker), f"{what}: the program ran although heaplens could not do its job")
    bad = os.path.join(tmp, "bad.supp")
    with open(bad, "w") as f:
        f.write("leak:ok\nfoo\n")
    r = hl("check", "--suppressions", bad, "--", A.fixture, cwd=tmp)
    one_line_error(r, "malformed suppressions", 125)
    check("expected 'leak:PATTERN'" in r.stderr and "bad.supp:2" in r.stderr, f"malformed suppressions: {r.stderr!r}")
    r = hl("run", "--", A.fixture, env={"HEAPLENS_PRELOAD": "/nonexistent/libheaplens.so"}, cwd=tmp)
    one_line_error(r, "missing preload", 125)


def group_bad_traces(tmp):
    good = os.path.join(tmp, "good.trace")
    r = hl("run", "-q", "-o", good, "--", A.fixture, "leak", "50", "100", cwd=tmp)
    check(r.returncode == 0 and os.path.getsize(good) > 100, f"recording a trace: {r.returncode} {r.stderr!r}")
    data = open(good, "rb").read()
    os.mkdir(os.path.join(tmp, "adir"))
    files = {"missing": os.path.join(tmp, "nope.trace"), "directory": os.path.join(tmp, "adir")}
    for name, content in [("empty", b""), ("text", b"hello world\n" * 20),
                          ("random", bytes(random.Random(1).getrandbits(8) for _ in range(4096))),
                          ("header only", data[:16]), ("bad version", data[:8] + b"\x63\0\0\0" + data[12:])]:
        p = os.path.join(tmp, name.replace(" ", "_"))
        open(p, "wb").write(content)
        files[name] = p
    for name, p in files.items():
        one_line_error(hl("report", p, cwd=tmp), f"report of a {name} file", 1)
    rng = random.Random(7)
    for cut in sorted({17, 40, len(data) // 3, len(data) // 2, len(data) - 1}):
        p = os.path.join(tmp, f"cut{cut}")
        open(p, "wb").write(data[:cut])
        r = hl("report", p, cwd=tmp)
        check(r.returncode in (0, 1), f"truncated at {cut}: exit {r.returncode}")
        check(r.stderr.strip() != "", f"truncated at {cut}: no message")
    for i in range(30):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(16, len(b))] = rng.getrandbits(8)
        p = os.path.join(tmp, f"flip{i}")
        open(p, "wb").write(bytes(b))
        r = hl("report", "--format", "json", p, cwd=tmp)
        check(r.returncode in (0, 1), f"flipped bytes #{i}: exit {r.returncode} {r.stderr[-200:]!r}")
    r = hl("report", "--format", "json", good, cwd=tmp)
    check(r.returncode == 0 and json.loads(r.stdout)["complete"], "the good trace reads")


def group_passthrough(tmp):
    r = subprocess.run([A.fixture, "echo"], input="hello\nworld\n", capture_output=True, text=True)
    u = hl("run", "-q", "--", A.fixture, "echo", stdin="hello\nworld\n", cwd=tmp)
    check(u.returncode == 0 and u.stdout == r.stdout == "hello\nworld\n", f"stdin/stdout: {u.stdout!r}")
    for code in (0, 3, 42):
        check(hl("run", "-q", "--", A.fixture, "exit", str(code), cwd=tmp).returncode == code, f"run exit {code}")
        j = os.path.join(tmp, f"c{code}.json")
        c = hl("check", "--json", j, "--", A.fixture, "exit", str(code), cwd=tmp)
        check(c.returncode == code, f"check exit {code}: got {c.returncode}")
        verdict = json.load(open(j))["verdict"]
        check(verdict == ("clean" if code == 0 else "program-failed"), f"check exit {code}: verdict {verdict}")
    t = os.path.join(tmp, "k.trace")
    r = hl("run", "-o", t, "--", A.fixture, "leak", "7", "300000", "kill", cwd=tmp)
    check(r.returncode == 137, f"SIGKILL: run exit {r.returncode}")
    rep = hl("report", "--format", "json", t, cwd=tmp)
    check(rep.returncode == 0, f"report of a killed program: {rep.returncode} {rep.stderr!r}")
    doc = json.loads(rep.stdout or "{}")
    check(doc.get("status", {}).get("signal") == 9, f"killed: status {doc.get('status')}")
    procs = doc.get("processes", [])
    # Sampled mode: the totals are estimates, but a site of large blocks is exact.
    sites = procs[0]["leaks"]["sites"] if procs else []
    check(procs and procs[0]["ended"] == "vanished" and len(sites) == 1 and sites[0]["exact"]
          and sites[0]["bytes"] == 7 * 300000 and sites[0]["stack"][0]["function"] == "leak_site",
          f"killed: live set {procs and procs[0]['leaks']}")


def group_check(tmp):
    fx = [A.fixture, "leak", "3", "1000"]
    r = hl("check", "--", *fx, cwd=tmp)
    check(r.returncode == 23 and "leak_site" in r.stderr, f"leaks: exit {r.returncode} {r.stderr!r}")
    check(hl("check", "--error-exitcode", "9", "--", *fx, cwd=tmp).returncode == 9, "--error-exitcode 9")
    check(hl("check", "--max-leaked-bytes", "3000", "--", *fx, cwd=tmp).returncode == 0, "bytes limit alone, at the leak")
    check(hl("check", "--max-leaked-bytes", "2999", "--", *fx, cwd=tmp).returncode == 23, "bytes limit below")
    check(hl("check", "--max-leaked-blocks", "3", "--", *fx, cwd=tmp).returncode == 0, "blocks limit alone, at the leak")
    check(hl("check", "--max-leaked-blocks", "2", "--", *fx, cwd=tmp).returncode == 23, "blocks limit below")
    supp = os.path.join(tmp, "s.supp")
    with open(supp, "w") as f:
        f.write("# ours\nleak:^leak_site$\n")
    j = os.path.join(tmp, "s.json")
    r = hl("check", "--suppressions", supp, "--json", j, "--", *fx, cwd=tmp)
    doc = json.load(open(j))
    check(r.returncode == 0 and doc["totals"]["suppressed_bytes"] == 3000, f"suppressed: {r.returncode} {doc['totals']}")
    x = os.path.join(tmp, "j.xml")
    hl("check", "--junit", x, "--", *fx, cwd=tmp)
    import xml.etree.ElementTree as ET
    root = ET.parse(x).getroot()
    cases = root.findall("./testsuite/testcase")
    check(root.tag == "testsuites" and len(cases) == 1 and cases[0].find("failure") is not None,
          f"junit: {open(x).read()[:300]!r}")
    # -o keeps the trace; without it nothing is left in the working directory or TMPDIR.
    tmpdir = os.path.join(tmp, "t")
    os.mkdir(tmpdir)
    hl("check", "--", *fx, cwd=tmp, env={"TMPDIR": tmpdir})
    check(os.listdir(tmpdir) == [] and not glob.glob(os.path.join(tmp, "*.trace")), "check left a trace behind")
    hl("check", "-o", os.path.join(tmp, "kept.trace"), "--", *fx, cwd=tmp)
    check(hl("report", os.path.join(tmp, "kept.trace"), cwd=tmp).returncode == 0, "check -o keeps a readable trace")


def shm_names(pid):
    return glob.glob(f"/dev/shm/heaplens-{os.getuid()}-{pid}-*")


def group_ls_record(tmp):
    check(hl("ls").returncode == 0, "ls")
    p = subprocess.Popen([A.heaplens, "run", "-q", "-o", os.path.join(tmp, "l.trace"), "--", A.fixture, "sleep", "3000"],
                         env=dict(os.environ, HEAPLENS_PRELOAD=A.preload), cwd=tmp)
    seen = False
    for _ in range(100):
        out = hl("ls").stdout
        if A.fixture in out:
            seen = True
            break
        time.sleep(0.1)
    check(seen, "ls shows a running program")
    p.wait(timeout=30)
    check(A.fixture not in hl("ls").stdout, "ls after the program ended")
    # A stale segment: kept by the library, never drained.
    env = dict(os.environ, LD_PRELOAD=A.preload, HEAPLENS_KEEP_SESSION="1", HEAPLENS_MODE="full")
    q = subprocess.Popen([A.fixture, "leak", "1", "10"], env=env)
    q.wait()
    stale = shm_names(q.pid)
    check(stale, "no stale segment was created")
    r = hl("ls")
    check(all(os.path.exists(n) for n in stale), "ls removed a segment less than 2 s old (a run may not have found it yet)")
    time.sleep(2.2)
    r = hl("ls")
    check(r.returncode == 0 and "stale" in r.stderr, f"ls about stale segments: {r.stderr!r}")
    check(not any(os.path.exists(n) for n in stale), "ls removed the stale segments")
    # record PID: a process started under the library alone, recorded while it runs.
    env = dict(os.environ, LD_PRELOAD=A.preload, HEAPLENS_MODE="full")
    # Its first allocation creates the session; record attaches while it sleeps.
    q = subprocess.Popen([A.fixture, "leak", "1", "8", "sleep", "800", "leak", "4", "500"], env=env)
    time.sleep(0.3)
    t = os.path.join(tmp, "r.trace")
    r = hl("record", str(q.pid), "-o", t)
    q.wait()
    check(r.returncode == 0, f"record: {r.returncode} {r.stderr!r}")
    doc = json.loads(hl("report", "--format", "json", t).stdout or "{}")
    leaks = doc.get("processes", [{}])[0].get("leaks", {})
    check(leaks.get("bytes") == 2008 and leaks.get("blocks") == 5, f"record: leaks {leaks}")
    one_line_error(hl("record", "999999999"), "record of no process", 1)


def main():
    global A
    ap = argparse.ArgumentParser()
    for k in ("--heaplens", "--preload", "--fixture", "--group"):
        ap.add_argument(k, required=True)
    A = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="heaplens-cli-") as tmp:
        globals()["group_" + A.group](tmp)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed in group {A.group}", file=sys.stderr)
        return 1
    print(f"group {A.group}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
