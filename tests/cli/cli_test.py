#!/usr/bin/env python3
"""End-to-end tests of the `heaplens` command: every bad input gives one line and a non-zero
exit (never a crash), exit statuses pass through, check's limits and suppressions, ls, record.

usage: HEAPLENS_PRELOAD=libheaplens.so cli_test.py --heaplens PATH FIXTURE [--group G] [--case NAME] [--list]

Each test case is a function `test_*` registered with @case(group); each runs in a fresh
temporary directory (its cwd and argument), and reports every failed expectation with what it
ran and what it got."""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

A = None           # parsed arguments: heaplens, fixture
PRELOAD = None     # libheaplens.so, from HEAPLENS_PRELOAD
CASES = []         # (group, function)
# test name -> what is wrong (the exact command, expected, got); remove when fixed.
MAX_OUTPUT = 4 << 20  # a report of a tiny trace is far below this: anything bigger is runaway output


class Case:
    """The expectations of one running test case."""
    failures = []


def case(group):
    def register(fn):
        CASES.append((group, fn))
        return fn
    return register


def expect(cond, what):
    if not cond:
        Case.failures.append(what)
    return cond


def hl(*args, stdin=None, env=None, cwd=None, timeout=60):
    """Runs `heaplens ARGS`; the result carries the command line for messages."""
    e = dict(os.environ, HEAPLENS_PRELOAD=PRELOAD)
    if env:
        e.update(env)
    r = subprocess.run([A.heaplens, *args], input=stdin, capture_output=True, text=True, env=e,
                       cwd=cwd, timeout=timeout, errors="replace")
    r.cmd = "heaplens " + " ".join(args)
    return r


def got(r):
    return f"exit {r.returncode}, stdout {r.stdout[:300]!r}, stderr {r.stderr[:600]!r}"


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


def one_line_error(r, code):
    """A failure of heaplens: exit `code` (never a signal), exactly one 'heaplens:' line on stderr."""
    expect(r.returncode >= 0, f"`{r.cmd}` crashed: {got(r)}")
    expect(r.returncode == code, f"`{r.cmd}`: want exit {code}; got {got(r)}")
    ls = lines(r.stderr)
    expect(len(ls) == 1 and ls[0].startswith("heaplens:"),
           f"`{r.cmd}`: want exactly one line starting with 'heaplens:' on stderr; got {got(r)}")


def fx(*args):
    return [A.fixture, *args]


def traces_in(d):
    return sorted(glob.glob(os.path.join(d, "*.trace")))


# ---------------------------------------------------------------------------------------------
# 1. Bad command lines: exit 2, one line.

USAGE_ERRORS = [
    ("unknown_subcommand", ["frobnicate"]),
    ("unknown_option", ["run", "--bogus", "--", "true"]),
    ("run_without_program", ["run"]),
    ("run_dashdash_without_program", ["run", "--"]),
    ("check_bad_number", ["check", "--max-leaked-bytes", "abc", "--", "x"]),
    ("check_negative_number", ["check", "--max-leaked-blocks", "-1", "--", "x"]),
    ("check_negative_bytes", ["check", "--max-leaked-bytes", "-5", "--", "x"]),
    ("check_overflowing_bytes", ["check", "--max-leaked-bytes", "18446744073709551616", "--", "x"]),
    ("check_fractional_blocks", ["check", "--max-leaked-blocks", "1.5", "--", "x"]),
    ("check_negative_device_bytes", ["check", "--max-leaked-device-bytes", "-1", "--", "x"]),
    ("check_bad_device_blocks", ["check", "--max-leaked-device-blocks", "2k", "--", "x"]),
    ("check_overflowing_device_blocks", ["check", "--max-leaked-device-blocks", "99999999999999999999", "--", "x"]),
    ("run_bad_size", ["run", "--sample-interval", "12Q", "--", "true"]),
    ("run_bad_mode", ["run", "--mode", "fast", "--", "true"]),
    ("report_without_file", ["report"]),
    ("report_bad_format", ["report", "--format", "xml", "x.trace"]),
    ("check_error_exitcode_0", ["check", "--error-exitcode", "0", "--", "true"]),
    ("record_without_target", ["record"]),
    ("no_arguments", []),
]


def make_usage_case(name, args):
    def fn(tmp):
        one_line_error(hl(*args, cwd=tmp), 2)
        expect(not os.listdir(tmp), f"`heaplens {' '.join(args)}` left files: {os.listdir(tmp)}")
    fn.__name__ = "test_usage_" + name
    return fn


for _name, _args in USAGE_ERRORS:
    case("usage")(make_usage_case(_name, _args))


@case("usage")
def test_help_and_version(tmp):
    r = hl("--help", cwd=tmp)
    expect(r.returncode == 0 and "run" in r.stdout and "check" in r.stdout, f"`heaplens --help`: {got(r)}")
    r = hl("--version", cwd=tmp)
    expect(r.returncode == 0 and r.stdout.startswith("heaplens "), f"`heaplens --version`: {got(r)}")


# ---------------------------------------------------------------------------------------------
# 2./3. Programs that cannot run; outputs that cannot be written.

@case("run_errors")
def test_run_missing_program(tmp):
    for sub in ("run", "check"):
        one_line_error(hl(sub, "--", "/nonexistent/prog", cwd=tmp), 127)
        one_line_error(hl(sub, "--", "no-such-program-in-path-xyz", cwd=tmp), 127)
    expect(not os.listdir(tmp), f"a missing program left files behind: {os.listdir(tmp)}")


@case("run_errors")
def test_run_not_executable(tmp):
    for sub in ("run", "check"):
        one_line_error(hl(sub, "--", "/etc/passwd", cwd=tmp), 126)
        one_line_error(hl(sub, "--", tmp, cwd=tmp), 126)  # a directory
    expect(not os.listdir(tmp), f"a program that is not executable left files behind: {os.listdir(tmp)}")


UNWRITABLE = [
    ("run_trace", ["run", "-o", "/proc/nonexistent/t.trace"]),
    ("run_trace_in_missing_dir", ["run", "-o", "/nonexistent-dir/t.trace"]),
    ("check_json", ["check", "--json", "/proc/nonexistent/x.json"]),
    ("check_junit", ["check", "--junit", "/nonexistent-dir/x.xml"]),
    ("check_trace", ["check", "-o", "/nonexistent-dir/t.trace"]),
    ("check_missing_suppressions", ["check", "--suppressions", "/nonexistent.supp"]),
]


def make_unwritable_case(name, args):
    def fn(tmp):
        marker = os.path.join(tmp, "ran")
        r = hl(*args, "--", *fx("marker", marker), cwd=tmp)
        one_line_error(r, 125)
        expect(not os.path.exists(marker), f"`{r.cmd}`: the program ran although heaplens could not do its job")
        expect(not traces_in(tmp), f"`{r.cmd}` left a trace: {os.listdir(tmp)}")
    fn.__name__ = "test_unwritable_" + name
    return fn


for _name, _args in UNWRITABLE:
    case("run_errors")(make_unwritable_case(_name, _args))


@case("run_errors")
def test_malformed_suppressions(tmp):
    bad = os.path.join(tmp, "bad.supp")
    with open(bad, "w") as f:
        f.write("# a comment\nleak:ok\nfoo\n")
    marker = os.path.join(tmp, "ran")
    r = hl("check", "--suppressions", bad, "--", *fx("marker", marker), cwd=tmp)
    one_line_error(r, 125)
    expect("expected 'leak:PATTERN'" in r.stderr and "bad.supp:3" in r.stderr,
           f"`{r.cmd}`: want \"bad.supp:3 ... expected 'leak:PATTERN'\"; got {got(r)}")
    expect(not os.path.exists(marker), f"`{r.cmd}`: the program ran despite bad suppressions")


@case("run_errors")
def test_missing_preload(tmp):
    marker = os.path.join(tmp, "ran")
    for sub in ("run", "check"):
        r = hl(sub, "--", *fx("marker", marker), env={"HEAPLENS_PRELOAD": "/nonexistent/libheaplens.so"}, cwd=tmp)
        one_line_error(r, 125)
        expect(not os.path.exists(marker), f"`{r.cmd}` without libheaplens.so: the program ran")


# ---------------------------------------------------------------------------------------------
# 4. report on bad traces: never a crash, one line, bounded output.

def good_trace(tmp, *prog, mode="full"):
    t = os.path.join(tmp, "good.trace")
    r = hl("run", "-q", "--mode", mode, "-o", t, "--", *fx(*prog), cwd=tmp)
    if not expect(r.returncode == 0 and os.path.getsize(t) > 100, f"recording a trace: `{r.cmd}`: {got(r)}"):
        raise RuntimeError("no trace to work on")
    with open(t, "rb") as f:
        return t, f.read()


def sane(r):
    expect(r.returncode >= 0, f"`{r.cmd}` crashed: {got(r)}")
    expect(r.returncode in (0, 1), f"`{r.cmd}`: want exit 0 or 1; got {got(r)}")
    expect(len(r.stdout) + len(r.stderr) < MAX_OUTPUT, f"`{r.cmd}`: {len(r.stdout)} bytes on stdout")
    if r.returncode == 1:
        ls = lines(r.stderr)
        expect(len(ls) == 1 and ls[0].startswith("heaplens:"), f"`{r.cmd}`: want one 'heaplens:' line; got {got(r)}")


@case("bad_traces")
def test_report_bad_files(tmp):
    _, data = good_trace(tmp, "leak", "5", "100")
    os.mkdir(os.path.join(tmp, "adir"))
    files = {"missing": os.path.join(tmp, "nope.trace"), "directory": os.path.join(tmp, "adir")}
    for name, content in [("empty", b""), ("text", b"hello world\n" * 20),
                          ("random", bytes(random.Random(1).getrandbits(8) for _ in range(4096))),
                          ("magic_only", data[:8]), ("header_only", data[:16]),
                          ("bad_version", data[:8] + b"\x63\0\0\0" + data[12:])]:
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(content)
        files[name] = p
    for name, p in files.items():
        for fmt in ("text", "json"):
            one_line_error(hl("report", "--format", fmt, p, cwd=tmp), 1)


@case("bad_traces")
def test_report_truncated(tmp):
    _, data = good_trace(tmp, "leak", "50", "100")
    for cut in sorted({17, 24, 40, 64, len(data) // 3, len(data) // 2, len(data) - 8, len(data) - 1}):
        p = os.path.join(tmp, f"cut{cut}.trace")
        with open(p, "wb") as f:
            f.write(data[:cut])
        for fmt in ("text", "json"):
            r = hl("report", "--format", fmt, p, cwd=tmp)
            sane(r)
            expect(r.stderr.strip() != "", f"`{r.cmd}` (a trace cut at {cut} of {len(data)} bytes): no message; {got(r)}")
            if r.returncode == 0:
                expect(r.stdout.strip() != "", f"`{r.cmd}`: exit 0 but no report on stdout")
                if fmt == "json":
                    try:
                        expect(json.loads(r.stdout).get("complete") is False,
                               f"`{r.cmd}`: a truncated trace reads as complete")
                    except ValueError as e:
                        expect(False, f"`{r.cmd}`: stdout is not JSON ({e}): {r.stdout[:200]!r}")


@case("bad_traces")
def test_report_truncated_after_whole_blocks(tmp):
    """A trace of several blocks cut in a later block: the blocks before the cut still give a
    report (exit 0) with one warning line; JSON says the trace is not complete."""
    _, data = good_trace(tmp, "leak", "200000", "16")
    for frac in (0.5, 0.75, 1.0):
        cut = int(len(data) * frac) - 1
        p = os.path.join(tmp, f"cut{cut}.trace")
        with open(p, "wb") as f:
            f.write(data[:cut])
        r = hl("report", p, cwd=tmp)
        sane(r)
        ls = lines(r.stderr)
        expect(r.returncode == 0 and "leak_site" in r.stdout and len(ls) == 1 and ls[0].startswith("heaplens:")
               and "ends early" in ls[0], f"`{r.cmd}` (cut at {cut} of {len(data)} bytes): want a report on "
               f"stdout and one warning line; got {got(r)}")
        r = hl("report", "--format", "json", p, cwd=tmp)
        try:
            doc = json.loads(r.stdout)
            # The records themselves (leaks, peak), not the tracker's counters: those come from
            # stats snapshots written every 100 ms, and a quick run has none before its end.
            p0 = doc["processes"][0]
            expect(r.returncode == 0 and doc["complete"] is False and p0["leaks"]["blocks"] > 0 and p0["peak"]["bytes"] > 0,
                   f"`{r.cmd}`: want complete false and the records before the cut; got complete "
                   f"{doc.get('complete')}, exit {r.returncode}, leaks {p0['leaks']['blocks']} blocks, "
                   f"peak {p0['peak']['bytes']} bytes")
        except (ValueError, KeyError, IndexError) as e:
            expect(False, f"`{r.cmd}`: not a JSON report ({e!r}): {got(r)}")


@case("bad_traces")
def test_report_flipped_bytes(tmp):
    _, data = good_trace(tmp, "leak", "50", "100")
    rng = random.Random(7)
    for i in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(16, len(b))] = rng.getrandbits(8)
        p = os.path.join(tmp, f"flip{i}.trace")
        with open(p, "wb") as f:
            f.write(bytes(b))
        sane(hl("report", "--format", "json" if i % 2 else "text", p, cwd=tmp))
    # One byte in the very middle, as the brief says.
    b = bytearray(data)
    b[len(b) // 2] ^= 0xff
    p = os.path.join(tmp, "middle.trace")
    with open(p, "wb") as f:
        f.write(bytes(b))
    sane(hl("report", p, cwd=tmp))


@case("bad_traces")
def test_report_good_trace(tmp):
    t, _ = good_trace(tmp, "leak", "3", "1000")
    r = hl("report", "--format", "json", t, cwd=tmp)
    expect(r.returncode == 0, f"`{r.cmd}`: {got(r)}")
    doc = json.loads(r.stdout)
    expect(doc["complete"] and doc["totals"]["leaked_bytes"] == 3000 and doc["totals"]["leaked_blocks"] == 3,
           f"`{r.cmd}`: totals {doc['totals']}")
    r = hl("report", t, cwd=tmp)
    expect(r.returncode == 0 and "leak_site" in r.stdout, f"`{r.cmd}`: {got(r)}")


# ---------------------------------------------------------------------------------------------
# 5. Pass-through of stdin, stdout and exit statuses.

@case("passthrough")
def test_stdin_stdout(tmp):
    data = "hello\n"
    plain = subprocess.run(fx("echo"), input=data, capture_output=True, text=True)
    for args in (["run", "-q"], ["run", "-q", "--mode", "full"], ["check"]):
        r = hl(*args, "--", *fx("echo"), stdin=data, cwd=tmp)
        expect(r.returncode == 0 and r.stdout == plain.stdout == "hello\n",
               f"`{r.cmd}` with stdin {data!r}: want stdout {plain.stdout!r}; got {got(r)}")
    r = hl("run", "-q", "--", *fx("print", "one", "print", "two"), cwd=tmp)
    expect(r.stdout == "one\ntwo\n" and r.stderr == "", f"`{r.cmd}`: {got(r)}")


@case("passthrough")
def test_exit_codes(tmp):
    for code in (0, 3, 42):
        r = hl("run", "-q", "--", *fx("exit", str(code)), cwd=tmp)
        expect(r.returncode == code, f"`{r.cmd}`: want exit {code}; got {got(r)}")
        j = os.path.join(tmp, f"c{code}.json")
        r = hl("check", "--json", j, "--", *fx("exit", str(code)), cwd=tmp)
        expect(r.returncode == code, f"`{r.cmd}`: want exit {code}; got {got(r)}")
        with open(j) as f:
            verdict = json.load(f).get("verdict")
        want = "clean" if code == 0 else "program-failed"
        expect(verdict == want, f"`{r.cmd}`: want verdict {want!r}; got {verdict!r}")
    # A failed program that also leaks: its own status wins over the leak status.
    r = hl("check", "--", *fx("leak", "3", "1000", "exit", "3"), cwd=tmp)
    expect(r.returncode == 3, f"`{r.cmd}`: want the program's 3; got {got(r)}")


@case("passthrough")
def test_sigkill(tmp):
    t = os.path.join(tmp, "k.trace")
    r = hl("run", "--mode", "full", "-o", t, "--", *fx("leak", "3", "1000", "kill"), cwd=tmp)
    expect(r.returncode == 137, f"`{r.cmd}`: want exit 137 (128+SIGKILL); got {got(r)}")
    r = hl("report", "--format", "json", t, cwd=tmp)
    expect(r.returncode == 0, f"`{r.cmd}` of a killed program: {got(r)}")
    doc = json.loads(r.stdout or "{}")
    expect(doc.get("status", {}).get("signal") == 9, f"`{r.cmd}`: status {doc.get('status')}")
    procs = doc.get("processes", [])
    live = procs[0]["leaks"] if procs else {}
    sites = [s for s in live.get("sites", []) if s["stack"] and s["stack"][0]["function"] == "leak_site"]
    expect(procs and procs[0]["ended"] == "vanished" and not procs[0]["leak_checked"],
           f"`{r.cmd}`: a killed process: {procs and {k: procs[0][k] for k in ('ended', 'leak_checked')}}")
    expect(len(sites) == 1 and sites[0]["bytes"] == 3000 and sites[0]["blocks"] == 3,
           f"`{r.cmd}`: want the live set to hold leak_site's 3 x 1000 bytes; got {live}")
    r = hl("report", t, cwd=tmp)
    expect(r.returncode == 0 and "leak_site" in r.stdout, f"`{r.cmd}` (text): {got(r)}")


# ---------------------------------------------------------------------------------------------
# 6. check: limits, exit codes, suppressions, reports.

LEAK3 = ("leak", "3", "1000")


@case("check")
def test_check_leaks(tmp):
    r = hl("check", "--", *fx(*LEAK3), cwd=tmp)
    expect(r.returncode == 23, f"`{r.cmd}`: want exit 23; got {got(r)}")
    expect("leak_site" in r.stderr, f"`{r.cmd}`: want the leak site leak_site on stderr; got {got(r)}")
    expect(r.stdout == "", f"`{r.cmd}`: heaplens wrote to the program's stdout: {r.stdout[:200]!r}")


@case("check")
def test_check_limits(tmp):
    for args, want in [(["--error-exitcode", "9"], 9),
                       (["--max-leaked-bytes", "3000"], 0), (["--max-leaked-bytes", "2999"], 23),
                       (["--max-leaked-blocks", "3"], 0), (["--max-leaked-blocks", "2"], 23),
                       (["--max-leaked-bytes", "3000", "--max-leaked-blocks", "2"], 23),
                       (["--max-leaked-bytes", "3000", "--max-leaked-blocks", "3"], 0)]:
        r = hl("check", *args, "--", *fx(*LEAK3), cwd=tmp)
        expect(r.returncode == want, f"`{r.cmd}`: want exit {want}; got {got(r)}")


@case("check")
def test_check_device_limits(tmp):
    # A host-only program: the device limits change nothing, and never cover host bytes. The
    # JSON states all four limits; one device limit alone leaves the other unlimited.
    unlimited = 2 ** 64 - 1
    for args, want, limits in [
            ([], 23, (0, 0, 0, 0)),
            (["--max-leaked-device-bytes", "5000"], 23, (0, 0, 5000, unlimited)),
            (["--max-leaked-device-blocks", "7"], 23, (0, 0, unlimited, 7)),
            (["--max-leaked-bytes", "3000", "--max-leaked-device-bytes", "0"], 0, (3000, unlimited, 0, unlimited)),
            (["--max-leaked-device-bytes", "1", "--max-leaked-device-blocks", "2"], 23, (0, 0, 1, 2))]:
        j = os.path.join(tmp, "d.json")
        r = hl("check", "--json", j, *args, "--", *fx(*LEAK3), cwd=tmp)
        expect(r.returncode == want, f"`{r.cmd}`: want exit {want}; got {got(r)}")
        with open(j) as f:
            doc = json.load(f)
        t = doc["thresholds"]
        have = (t["max_leaked_bytes"], t["max_leaked_blocks"], t["max_leaked_device_bytes"], t["max_leaked_device_blocks"])
        expect(have == limits, f"`{r.cmd}`: thresholds {t}, want {limits}")
        expect(doc["totals"]["device_leaked_bytes"] == 0 and doc["totals"]["device_leaked_blocks"] == 0,
               f"`{r.cmd}`: device totals of a host-only program: {doc['totals']}")
        devices = doc["processes"][0]["devices"]
        expect([d["name"] for d in devices] == ["host"] and devices[0]["leaks"]["bytes"] == 3000,
               f"`{r.cmd}`: devices of a host-only program: {devices}")


@case("check")
def test_check_suppressions(tmp):
    for pattern in ("leak_site", "^leak_site$", "cli_fixture.c", "leak_*"):
        supp = os.path.join(tmp, "s.supp")
        with open(supp, "w") as f:
            f.write(f"# ours\nleak:{pattern}\n")
        j = os.path.join(tmp, "s.json")
        r = hl("check", "--suppressions", supp, "--json", j, "--", *fx(*LEAK3), cwd=tmp)
        expect(r.returncode == 0, f"`{r.cmd}` with leak:{pattern}: want exit 0; got {got(r)}")
        with open(j) as f:
            totals = json.load(f)["totals"]
        expect(totals["suppressed_bytes"] == 3000 and totals["leaked_bytes"] == 0,
               f"`{r.cmd}` with leak:{pattern}: totals {totals}")
    with open(supp, "w") as f:
        f.write("leak:no_such_function\n")
    r = hl("check", "--suppressions", supp, "--", *fx(*LEAK3), cwd=tmp)
    expect(r.returncode == 23, f"`{r.cmd}` with a suppression that matches nothing: {got(r)}")


@case("check")
def test_check_junit_json(tmp):
    x, j = os.path.join(tmp, "j.xml"), os.path.join(tmp, "j.json")
    r = hl("check", "--junit", x, "--json", j, "--", *fx(*LEAK3), cwd=tmp)
    expect(r.returncode == 23, f"`{r.cmd}`: {got(r)}")
    root = ET.parse(x).getroot()
    cases = root.findall("./testsuite/testcase")
    expect(root.tag == "testsuites" and len(cases) == 1 and cases[0].find("failure") is not None,
           f"`{r.cmd}`: junit {open(x).read()[:300]!r}")
    with open(j) as f:
        doc = json.load(f)
    expect(doc.get("verdict") == "leaks" and doc["totals"]["leaked_bytes"] == 3000,
           f"`{r.cmd}`: json verdict {doc.get('verdict')!r} totals {doc.get('totals')}")


@case("check")
def test_check_trace_files(tmp):
    tmpdir = os.path.join(tmp, "t")
    os.mkdir(tmpdir)
    r = hl("check", "--", *fx(*LEAK3), cwd=tmp, env={"TMPDIR": tmpdir})
    expect(os.listdir(tmpdir) == [] and not traces_in(tmp), f"`{r.cmd}` left a trace behind: {os.listdir(tmp)}")
    kept = os.path.join(tmp, "kept.trace")
    hl("check", "-o", kept, "--", *fx(*LEAK3), cwd=tmp)
    r = hl("report", kept, cwd=tmp)
    expect(r.returncode == 0 and "leak_site" in r.stdout, f"check -o keeps a readable trace: `{r.cmd}`: {got(r)}")


# ---------------------------------------------------------------------------------------------
# 7./8. ls and record.

def preload_env(**settings):
    """The environment of a program started under libheaplens.so directly, without the CLI.
    HEAPLENS_PRELOAD is the CLI's setting (the library would warn about it), so it goes."""
    env = {k: v for k, v in os.environ.items() if k != "HEAPLENS_PRELOAD"}
    env.update(LD_PRELOAD=PRELOAD, **settings)
    return env


def has_session(pid):
    """The library unlinks the segment's name at once (no HEAPLENS_KEEP_SESSION): readers find it
    through the process's descriptors."""
    try:
        return any("/heaplens-" in os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def shm_segment(pid):
    return f"/dev/shm/heaplens-{os.getuid()}-{pid}-0"


def ls_pids(out):
    pids = {}
    for l in out.splitlines()[1:]:
        f = l.split()
        if f and f[0].isdigit():
            pids[int(f[0])] = l
    return pids


def wait_for(pred, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def read_pid(marker):
    try:
        with open(marker) as f:
            s = f.read()
        return int(s) if s.endswith("\n") else None
    except (OSError, ValueError):
        return None


@case("ls_record")
def test_ls_runs(tmp):
    r = hl("ls", cwd=tmp)
    expect(r.returncode == 0 and r.stdout.split()[:1] == ["PID"], f"`{r.cmd}`: {got(r)}")


@case("ls_record")
def test_ls_lists_running_program(tmp):
    marker = os.path.join(tmp, "pid")
    p = subprocess.Popen([A.heaplens, "run", "-q", "-o", os.path.join(tmp, "l.trace"), "--",
                          *fx("marker", marker, "sleep", "2500")],
                         env=dict(os.environ, HEAPLENS_PRELOAD=PRELOAD), cwd=tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = wait_for(lambda: read_pid(marker))
        expect(pid, "the fixture under `heaplens run` did not start within 10 s")
        if pid:
            line = wait_for(lambda: ls_pids(hl("ls", cwd=tmp).stdout).get(pid))
            expect(line, f"`heaplens ls` did not list pid {pid} within 10 s: {hl('ls').stdout!r}")
            if line:
                expect(line.split()[-1] in (A.fixture, os.path.realpath(A.fixture)),
                       f"`heaplens ls`: want the program path {A.fixture}; got {line!r}")
    finally:
        rc = p.wait(timeout=30)
    expect(rc == 0, f"heaplens run of the sleeping fixture: exit {rc}")
    if pid:
        r = hl("ls", cwd=tmp)
        expect(pid not in ls_pids(r.stdout), f"`heaplens ls` after the program ended still lists {pid}: {r.stdout!r}")
        expect(not os.path.exists(shm_segment(pid)), f"{shm_segment(pid)} remains after the run")


@case("ls_record")
def test_ls_removes_stale(tmp):
    q = subprocess.Popen(fx("leak", "1", "10"), env=preload_env(HEAPLENS_KEEP_SESSION="1", HEAPLENS_MODE="full"),
                         cwd=tmp, stderr=subprocess.PIPE, text=True)
    _, err = q.communicate(timeout=30)
    expect(err == "", f"the fixture under LD_PRELOAD alone wrote {err!r} on stderr")
    seg = shm_segment(q.pid)
    if not expect(os.path.exists(seg), f"HEAPLENS_KEEP_SESSION=1 left no {seg}"):
        return
    # sweep_stale spares segments younger than 2 s (a run may not have found them yet).
    r = hl("ls", "--keep-stale", cwd=tmp)
    expect(r.returncode == 0 and os.path.exists(seg), f"`{r.cmd}` removed {seg}: {got(r)}")
    time.sleep(2.2)
    r = hl("ls", "--keep-stale", cwd=tmp)
    expect(r.returncode == 0 and "stale" in r.stderr and os.path.exists(seg), f"`{r.cmd}`: {got(r)}")
    expect(q.pid not in ls_pids(r.stdout), f"`{r.cmd}` lists the dead pid {q.pid} as live: {r.stdout!r}")
    r = hl("ls", cwd=tmp)
    expect(r.returncode == 0 and "stale" in r.stderr, f"`{r.cmd}`: want a line about stale segments; got {got(r)}")
    expect(not os.path.exists(seg), f"`{r.cmd}` did not remove {seg}")


@case("ls_record")
def test_record_pid(tmp):
    marker = os.path.join(tmp, "pid")
    # fopen of the marker allocates, so the session exists when the marker does.
    q = subprocess.Popen(fx("marker", marker, "sleep", "1000", *LEAK3), env=preload_env(HEAPLENS_MODE="full"), cwd=tmp)
    try:
        ok = wait_for(lambda: read_pid(marker) and has_session(q.pid), 5)
        expect(ok, f"the fixture (pid {q.pid}) under LD_PRELOAD has no heaplens session after 5 s")
        t = os.path.join(tmp, "t.trace")
        r = hl("record", str(q.pid), "-o", t, cwd=tmp)
    finally:
        q.wait(timeout=30)
    expect(r.returncode == 0, f"`{r.cmd}`: {got(r)}")
    rep = hl("report", "--format", "json", t, cwd=tmp)
    expect(rep.returncode == 0, f"`{rep.cmd}`: {got(rep)}")
    doc = json.loads(rep.stdout or "{}")
    procs = doc.get("processes", [{}])
    sites = [s for s in procs[0].get("leaks", {}).get("sites", [])
             if s["stack"] and s["stack"][0]["function"] == "leak_site"]
    expect(procs[0].get("pid") == q.pid and len(sites) == 1 and sites[0]["bytes"] == 3000 and sites[0]["blocks"] == 3,
           f"`{rep.cmd}`: want leak_site's 3 x 1000 bytes; got {procs[0].get('leaks')}")


@case("ls_record")
def test_record_no_process(tmp):
    one_line_error(hl("record", "999999999", cwd=tmp), 1)
    one_line_error(hl("record", "/dev/shm/heaplens-nonexistent", cwd=tmp), 1)
    expect(not os.listdir(tmp), f"record of no process left files: {os.listdir(tmp)}")


# ---------------------------------------------------------------------------------------------

def run_case(fn):
    Case.failures = []
    with tempfile.TemporaryDirectory(prefix="heaplens-cli-") as tmp:
        try:
            fn(tmp)
        except Exception:
            Case.failures.append("raised:\n" + traceback.format_exc())
    return Case.failures


def main():
    global A, PRELOAD
    ap = argparse.ArgumentParser()
    ap.add_argument("--heaplens", required=True)
    ap.add_argument("fixture")
    ap.add_argument("--group")
    ap.add_argument("--case", action="append")
    ap.add_argument("--list", action="store_true")
    A = ap.parse_args()
    A.fixture = os.path.abspath(A.fixture)
    PRELOAD = os.environ.get("HEAPLENS_PRELOAD", "")
    selected = [(g, fn) for g, fn in CASES if (not A.group or g == A.group) and (not A.case or fn.__name__ in A.case)]
    if A.list:
        for g, fn in selected:
            print(g, fn.__name__)
        return 0
    if not os.path.exists(PRELOAD):
        print(f"HEAPLENS_PRELOAD must name libheaplens.so (got {PRELOAD!r})", file=sys.stderr)
        return 1
    if not selected:
        print("no test case selected", file=sys.stderr)
        return 1
    failed = 0
    for g, fn in selected:
        name = fn.__name__
        failures = run_case(fn)
        if failures:
            failed += 1
            print(f"FAIL {name}")
            for f in failures:
                print(f"    {f}")
        else:
            print(f"ok   {name}")
    print(f"{len(selected) - failed}/{len(selected)} cases passed, {failed} failed"
          + (f" in group {A.group}" if A.group else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
