#!/usr/bin/env python3
"""Holds `heaplens check` and `heaplens run` + `report` to the ground truth in expected.json.

usage: check_groundtruth.py --heaplens PATH --preload LIBHEAPLENS --fixtures-dir DIR
                            --expected expected.json --case NAME [--keep]
       check_groundtruth.py --expected expected.json --list
       check_groundtruth.py --expected expected.json --case truth     (needs no heaplens)

Cases (one ctest each, see CMakeLists.txt):
  truth              expected.json is self-consistent (sites sum to the leaks, live_at_peak
                     to the peak) and every fixture's sampled interval meets the error bounds
  check.<fixture>    full mode: `heaplens check --json` gives exactly the expected leaked
                     bytes/blocks and leak-site functions per process, the expected exit code
                     and verdict, and the peak within its tolerance
  sampled.<fixture>  `heaplens run --sample-interval R -o t.trace` then `report --format json`:
                     sites of blocks >= 256 KiB exact, leaked bytes within 10 %, peak within 1 %;
                     R from expected.json, small enough for every bound (see --case truth)
  estimate.<fixture> the same at a realistic interval (estimate_interval), leaked bytes only
  sigkill            the SIGKILLed fixture's trace is readable, says signal 9, shows the live set
  thresholds         --max-leaked-bytes / --max-leaked-blocks just above / at / below the leak
  error-exitcode     --error-exitcode 7
  suppressions       leak:<one site> moves exactly that site to suppressed
  junit              --junit: well-formed JUnit XML, one failing testcase per unsuppressed site

Leak sites are compared by the function of stack[0] (C++ parameter lists dropped), summed over
sites with the same function. Blocks the C/C++ runtime never frees (expected.json
runtime_blocks) are expected to be suppressed by heaplens by default; if one shows up
unsuppressed the failure says so.

Exit 0 on success, 1 on a mismatch (with a diff on stdout), 2 on a usage or setup error.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

LARGE = 256 * 1024          # heaplens's default large threshold: always recorded exactly
SAMPLED_LEAK_TOL = 0.10     # leaked bytes estimate vs truth, sampled mode
FAIL_PROB = 1e-6            # the most a statistical check may fail by chance
DEFAULT_EXIT_LEAKS = 23
TIMEOUT = 300


class Mismatch(Exception):
    pass


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]i?B?|B)?\s*", str(text))
    if not m:
        raise ValueError(f"bad size {text!r}")
    mult = {None: 1, "B": 1}
    unit = m.group(2)
    if unit and unit not in mult:
        mult[unit] = 1024 ** (" KMG".index(unit[0]))
    return int(m.group(1)) * mult[unit]


# ---------------------------------------------------------------- statistics
def bernstein_fail_prob(blocks, interval, rel_tol, total):
    """Upper bound on P(|estimate - total| > rel_tol * total) for the heaplens sampler.

    Sampling is a Poisson process over each thread's allocated bytes, so each block of s bytes
    is recorded independently with p = 1 - exp(-s/R) and counted as s/p bytes (blocks >= the
    large threshold always, weight 1). X_s = (s/p) * Bernoulli(p) - s has mean 0, variance
    s^2 (1-p)/p and |X_s| <= s/p. Bernstein: P(|sum| >= t) <= 2 exp(-t^2 / (2 (V + M t / 3))).
    """
    if total == 0:
        return 0.0
    t = rel_tol * total
    var = 0.0
    bound = 0.0
    miss = 0.0       # P(some small block is not recorded), union bound
    overcount = 0.0  # the estimate's error when every small block is recorded
    for size, count in blocks:
        if size >= LARGE or count == 0:
            continue
        p = -math.expm1(-size / interval)
        q = math.exp(-size / interval)  # 1 - p, without cancellation
        var += count * size * size * q / p
        bound = max(bound, size, size * q / p)
        miss += count * q
        overcount += count * size * q / p
    if var == 0:
        return 0.0
    bern = 2 * math.exp(-t * t / (2 * (var + bound * t / 3)))
    union = miss if overcount < t else 1.0
    return min(1.0, bern, union, chernoff_fail_prob(blocks, interval, t))


def _logaddexp(a, b):
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def chernoff_fail_prob(blocks, interval, t):
    """Chernoff bound with the exact moment generating function of each block's error.

    Y = (s/p) * Bernoulli(p) - s; P(sum Y >= t) <= exp(-l t) prod E[exp(l Y)] for any l > 0,
    and the same for -Y; minimised over l on a logarithmic grid. Tighter than Bernstein when
    block sizes differ a lot."""
    items = []
    for size, count in blocks:
        if size >= LARGE or count == 0:
            continue
        p = -math.expm1(-size / interval)
        logq = -size / interval
        items.append((size, count, p, logq))
    if not items:
        return 0.0
    total = 0.0
    for sign in (1, -1):
        best = 0.0  # log of the bound; 0 means 1
        for k in range(-400, 1):
            lam = 10 ** (k / 20) * 1e-2  # 1e-22 .. 1e-2 per byte
            log_mgf = 0.0
            for size, count, p, logq in items:
                up = math.log(p) + sign * lam * (size / p - size)
                down = logq - sign * lam * size
                log_mgf += count * _logaddexp(up, down)
            best = min(best, log_mgf - lam * t)
        total += math.exp(best)
    return min(1.0, total)


def sampled_bounds(fx, key="sample_interval"):
    """(interval, [(what, probability)]) for a fixture's sampled test. With
    key="estimate_interval" only the leak bound is required."""
    interval = parse_size(fx["sampled"][key])
    out = []
    for proc in fx["processes"]:
        leaks = proc.get("leaks")
        if leaks and leaks["bytes"]:
            blocks = [(s["block_size"], s["blocks"]) for s in proc["sites"]]
            out.append((f"{proc['role']} leaked bytes within {SAMPLED_LEAK_TOL:.0%}",
                        bernstein_fail_prob(blocks, interval, SAMPLED_LEAK_TOL, leaks["bytes"])))
            # compare_leaks requires every leak site to be seen: a site of small blocks is missed
            # only if none of its blocks is recorded, prod(exp(-size/R)) = exp(-site bytes/R)
            for s in proc["sites"]:
                if s["block_size"] < LARGE:
                    out.append((f"{proc['role']} leak site {s['function']} seen",
                                math.exp(-s["bytes"] / interval)))
        peak = proc.get("peak")
        if peak and peak.get("live_at_peak") and key == "sample_interval":
            blocks = [tuple(b) for b in peak["live_at_peak"]]
            out.append((f"{proc['role']} peak within {peak['tolerance_rel']:.0%}",
                        bernstein_fail_prob(blocks, interval, peak["tolerance_rel"], peak["bytes"])))
    return interval, out


def largest_safe_interval(fx):
    """The largest power of two (<= 512 KiB) that keeps every bound under FAIL_PROB."""
    best = None
    r = 1
    while r <= 512 * 1024:
        trial = dict(fx, sampled={"sample_interval": str(r)})
        if all(p < FAIL_PROB for _, p in sampled_bounds(trial)[1]):
            best = r
        r *= 2
    return best


# ---------------------------------------------------------------- helpers
def normalize_function(name):
    """'ns::f<int>::g(unsigned long, void const*) const' -> 'ns::f<int>::g'."""
    if not name:
        return ""
    name = name.strip()
    if name.startswith("_Z"):
        try:
            name = subprocess.run(["c++filt", name], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    for suffix in (" const", " volatile", " &", " &&"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(")"):
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            if name[i] == ")":
                depth += 1
            elif name[i] == "(":
                depth -= 1
                if depth == 0:
                    if i > 0:  # not '(anonymous namespace)' alone
                        name = name[:i]
                    break
    return name.strip()


def frame_function(frame):
    return normalize_function(frame.get("function") or "")


def stack_functions(site):
    return [frame_function(f) for f in site.get("stack", [])]


def describe_site(site):
    stack = site.get("stack", [])
    frames = " <- ".join(f"{frame_function(f) or f.get('pc', '?')}" for f in stack[:6])
    return f"{site.get('bytes')} bytes in {site.get('blocks')} blocks at [{frames}]"


def runtime_kind(site, runtime_blocks):
    """Which runtime_blocks entry an unexpected site is, if any."""
    funcs = stack_functions(site)
    modules = [f.get("module") or "" for f in site.get("stack", [])]
    for kind, rb in runtime_blocks.items():
        for fn in funcs:
            for pat in rb["match_functions"]:
                if fn == pat or fn.endswith("::" + pat) or fn.startswith(pat):
                    return kind
        if kind == "libstdcxx_emergency_pool" and site.get("bytes") == rb["bytes"] and \
                any(rb["match_module"] in m for m in modules[:1]):
            return kind
    return None


class Runner:
    def __init__(self, args, expected):
        self.args = args
        self.expected = expected
        self.fixtures_dir = os.path.abspath(args.fixtures_dir) if args.fixtures_dir else None
        self.workdir = tempfile.mkdtemp(prefix=f"gt-{args.case.replace('/', '_')}-")
        self.errors = []
        self.env = dict(os.environ)
        if args.preload:
            self.env["HEAPLENS_PRELOAD"] = os.path.abspath(args.preload)
        self.env.pop("LD_PRELOAD", None)  # the CLI itself must not run under heaplens

    # -- plumbing
    def fixture(self, name):
        path = os.path.join(self.fixtures_dir, name)
        if not os.access(path, os.X_OK):
            raise SystemExit(f"check_groundtruth: fixture {path} is missing (build target groundtruth_fixtures)")
        return path

    def path(self, name):
        return os.path.join(self.workdir, name)

    def heaplens(self, *argv, expect_rc=None, what=""):
        cmd = [self.args.heaplens, *argv]
        try:
            res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Mismatch(f"{what}: timed out after {TIMEOUT}s: {' '.join(cmd)}")
        self.last_cmd = " ".join(cmd)
        self.last_stderr = res.stderr
        if expect_rc is not None and res.returncode != expect_rc:
            self.fail(f"{what}: exit code: expected {expect_rc}, got {res.returncode}\n"
                      f"      command: {self.last_cmd}\n      stderr: {tail(res.stderr)}")
        return res

    def fail(self, msg):
        self.errors.append(msg)

    def load_json(self, path, what):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise Mismatch(f"{what}: cannot read JSON {path}: {e}\n      command: {self.last_cmd}\n"
                           f"      stderr: {tail(self.last_stderr)}")

    def check_json(self, fx_name, *extra, rc=None, tag="check"):
        fx = self.expected["fixtures"][fx_name]
        out = self.path(f"{tag}-{fx_name}.json")
        exp_rc = fx["check_exit_code"] if rc is None else rc
        self.heaplens("check", "--json", out, "-o", self.path(f"{tag}-{fx_name}.trace"), *extra, "--",
                      self.fixture(fx_name), *fx["args"], expect_rc=exp_rc, what=f"{tag} {fx_name}")
        return self.load_json(out, f"{tag} {fx_name}")

    # -- matching processes to roles
    def match_processes(self, fx, doc, what, strict=True):
        """Maps each expected role to a process of the report. strict=False leaves out the
        roles it cannot find instead of raising Mismatch."""
        procs = doc.get("processes")
        if not isinstance(procs, list):
            raise Mismatch(f"{what}: no processes array")
        root_pid = (doc.get("status") or {}).get("pid")
        pids = {p.get("pid") for p in procs}
        final = [p for p in procs if p.get("ended") != "exec"]
        roles = {}
        for exp in fx["processes"]:
            base = exp["executable"]
            cands = [p for p in final if os.path.basename(p.get("executable") or "") == base]
            if exp["parent"] is None:
                pick = [p for p in cands if p.get("pid") == root_pid] or \
                       [p for p in cands if p.get("ppid") not in pids]
            else:
                parent = roles.get(exp["parent"])
                if parent is None and not strict:
                    continue
                if parent is None:
                    raise Mismatch(f"{what}: role {exp['role']}: its parent role was not found")
                pick = [p for p in cands if p.get("ppid") == parent.get("pid")]
                siblings = [e for e in fx["processes"]
                            if e["executable"] == base and e["parent"] == exp["parent"]]
                if len(siblings) > 1:
                    # same executable, same parent: tell them apart by their leak sites, else
                    # (all of them there) by the order they were started in
                    want = {s["function"] for s in exp["sites"]}
                    by_sites = [p for p in pick if want and want <= {
                        frame_function(s["stack"][0]) for s in (p.get("leaks") or {}).get("sites", []) if s.get("stack")}]
                    if by_sites:
                        pick = by_sites
                    elif len(pick) == len(siblings):
                        pick = [sorted(pick, key=lambda p: p.get("pid", 0))[siblings.index(exp)]]
                    else:
                        pick = []
            if not pick and not strict:
                continue
            if not pick:
                raise Mismatch(f"{what}: no process for role {exp['role']} (executable {base}, parent "
                               f"{exp['parent']}); processes: " + ", ".join(
                                   f"pid={p.get('pid')} ppid={p.get('ppid')} {p.get('executable')} ended={p.get('ended')}"
                                   for p in procs))
            roles[exp["role"]] = pick[0]
        return roles

    # -- comparing one process's leaks with the truth
    def compare_leaks(self, exp, proc, what, exact):
        """exact: full mode (everything exact). Otherwise sampled tolerances."""
        runtime_blocks = self.expected["runtime_blocks"]
        leaks = proc.get("leaks")
        if not isinstance(leaks, dict):
            self.fail(f"{what}: no leaks object")
            return
        sites = leaks.get("sites") or []
        unsup = [s for s in sites if s.get("suppressed_by") in (None, "")]
        got = {}
        extra = []
        expected_funcs = {s["function"]: s for s in exp["sites"]}
        for s in unsup:
            fn = frame_function(s["stack"][0]) if s.get("stack") else "<empty stack>"
            if fn in expected_funcs:
                g = got.setdefault(fn, {"bytes": 0, "blocks": 0, "exact": True, "sites": []})
                g["bytes"] += s.get("bytes", 0)
                g["blocks"] += s.get("blocks", 0)
                g["exact"] = g["exact"] and bool(s.get("exact"))
                g["sites"].append(s)
            else:
                extra.append(s)
        for s in extra:
            kind = runtime_kind(s, runtime_blocks)
            if kind:
                self.fail(f"{what}: runtime block reported as a leak, not suppressed by default: {kind}: "
                          f"{describe_site(s)}  ({runtime_blocks[kind]['note'][:120]}...)")
            else:
                dropped = (proc.get("counters") or {}).get("records_dropped") or proc.get("records_dropped")
                self.fail(f"{what}: unexpected leak site: {describe_site(s)}"
                          + (f" (records_dropped={dropped}: a lost Free record?)" if dropped else ""))
        for fn, e in expected_funcs.items():
            g = got.get(fn)
            if g is None:
                self.fail(f"{what}: missing leak site {fn}: expected {e['bytes']} bytes in {e['blocks']} blocks")
                continue
            if e.get("via"):
                for s in g["sites"]:
                    if e["via"] not in stack_functions(s)[1:]:
                        self.fail(f"{what}: site {fn}: {e['via']} not in its stack: {describe_site(s)}")
            large = e["block_size"] >= LARGE
            if exact or large:
                if (g["bytes"], g["blocks"]) != (e["bytes"], e["blocks"]):
                    self.fail(f"{what}: site {fn}: expected {e['bytes']} bytes in {e['blocks']} blocks, "
                              f"got {g['bytes']} bytes in {g['blocks']} blocks")
                if not g["exact"]:
                    self.fail(f"{what}: site {fn}: 'exact' is false for a site that must be exact"
                              f"{' (blocks >= 256 KiB)' if large and not exact else ''}")
        # the process totals
        eb, ek = exp["leaks"]["bytes"], exp["leaks"]["blocks"]
        gb, gk = leaks.get("bytes"), leaks.get("blocks")
        if exact:
            if (gb, gk) != (eb, ek):
                self.fail(f"{what}: leaks: expected {eb} bytes in {ek} blocks, got {gb} bytes in {gk} blocks")
            if leaks.get("exact") is not True:
                self.fail(f"{what}: leaks.exact: expected true in full mode, got {leaks.get('exact')}")
        else:
            if eb == 0:
                if gb != 0:
                    self.fail(f"{what}: leaks.bytes: expected 0, got {gb}")
            elif gb is None or abs(gb - eb) > SAMPLED_LEAK_TOL * eb:
                dropped = (proc.get("counters") or {}).get("records_dropped") or proc.get("records_dropped")
                self.fail(f"{what}: leaks.bytes (sampled estimate): expected {eb} +/- {SAMPLED_LEAK_TOL:.0%}, "
                          f"got {gb} ({fmt_rel(gb, eb)}); error_bytes reported: {leaks.get('error_bytes')}"
                          + (f"; records_dropped={dropped} (the ring overflowed: the estimate is biased by "
                             f"lost records, which neither 'complete' nor error_bytes reflects)" if dropped else ""))
            self.info(f"{what}: sampled leaks {gb} bytes / {gk} blocks vs truth {eb} / {ek} "
                      f"({fmt_rel(gb, eb)} bytes, {fmt_rel(gk, ek)} blocks), "
                      f"error_bytes={leaks.get('error_bytes')} error_blocks={leaks.get('error_blocks')}")

    def compare_peak(self, fx, exp, proc, what, sampled):
        pe = exp.get("peak")
        if not pe:
            return
        if sampled and not pe.get("live_at_peak"):
            return
        # runtime_bytes (libstdc++'s emergency pool) is allocated by libstdc++'s constructor,
        # which the dynamic loader runs before libheaplens.so's own: heaplens's exact counters
        # see it (the allocator peak), its recording does not. The recorded peak is compared
        # with the program's own allocations; docs/ci.md states the limitation.
        target = pe["bytes"]
        tol = pe["tolerance_rel"] * target
        got = (proc.get("peak") or {}).get("bytes")
        if got is None:
            self.fail(f"{what}: peak.bytes missing")
            return
        self.info(f"{what}: peak {got} vs truth {target} ({fmt_rel(got, target)}), "
                  f"exact={proc['peak'].get('exact')} error_bytes={proc['peak'].get('error_bytes')}")
        if abs(got - target) <= tol:
            return
        pool = self.expected["runtime_blocks"]["libstdcxx_emergency_pool"]["bytes"]
        hint = ""
        if fx["language"] == "c" and abs(got - target - pool) <= tol:
            hint = (f" -- the difference is libstdc++'s emergency pool ({pool} bytes), which exists in this C "
                    f"program only because libheaplens.so links libstdc++.so: heaplens counts its own "
                    f"runtime's block in the program's peak")
        elif fx["language"] == "c++" and abs(target - got - pool) <= tol:
            hint = (f" -- the difference is exactly libstdc++'s emergency pool ({pool} bytes, malloc'ed by "
                    f"libstdc++'s constructor before main, live to the end; valgrind massif and heaptrack "
                    f"count it): heaplens did not record it (allocated before its tracker started?)")
        dropped = (proc.get("counters") or {}).get("records_dropped") or proc.get("records_dropped")
        if dropped:
            hint += f" -- records_dropped={dropped}"
        self.fail(f"{what}: peak.bytes: expected {target} +/- {pe['tolerance_rel']:.0%}, got {got} "
                  f"({fmt_rel(got, target)}){hint}")

    def info(self, msg):
        print("  " + msg)


def fmt_rel(got, exp):
    if got is None or not exp:
        return "n/a"
    return f"{(got - exp) / exp:+.2%}"


def tail(text, n=800):
    text = (text or "").strip()
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- cases
def case_truth(expected, _runner=None):
    errors = []
    for name, fx in expected["fixtures"].items():
        for proc in fx["processes"]:
            w = f"{name}/{proc['role']}"
            sb = sum(s["bytes"] for s in proc["sites"])
            sk = sum(s["blocks"] for s in proc["sites"])
            for s in proc["sites"]:
                if s["block_size"] * s["blocks"] != s["bytes"]:
                    errors.append(f"{w}: site {s['function']}: {s['blocks']} x {s['block_size']} != {s['bytes']}")
            totals = proc.get("leaks") or proc.get("live_at_kill")
            if (sb, sk) != (totals["bytes"], totals["blocks"]):
                errors.append(f"{w}: sites sum to {sb} bytes / {sk} blocks, process says "
                              f"{totals['bytes']} / {totals['blocks']}")
            pk = proc.get("peak")
            if pk and pk.get("live_at_peak"):
                lb = sum(a * b for a, b in pk["live_at_peak"])
                if lb != pk["bytes"]:
                    errors.append(f"{w}: live_at_peak sums to {lb}, peak.bytes is {pk['bytes']}")
        best = largest_safe_interval(fx)
        for key in ("sample_interval", "estimate_interval"):
            if key not in fx["sampled"]:
                continue
            interval, bounds = sampled_bounds(fx, key)
            for what, p in bounds:
                ok = p < FAIL_PROB
                print(f"  {name}: {key} {interval} B: P(fail: {what}) <= {p:.2e}{'' if ok else '  TOO HIGH'}")
                if not ok:
                    errors.append(f"{name}: {key} {interval} too large: P(fail: {what}) <= {p:.2e} "
                                  f"(largest safe power of two for every bound: {best})")
        print(f"  {name}: largest safe power-of-two interval for every bound: {best}")
    return errors


def case_check(r, name):
    fx = r.expected["fixtures"][name]
    doc = r.check_json(name)
    what = f"check {name}"
    status = doc.get("status") or {}
    if fx.get("program_signal"):
        if status.get("signal") != fx["program_signal"]:
            r.fail(f"{what}: status: expected signal {fx['program_signal']}, got {status}")
    elif status.get("exit_code") != fx["program_exit_code"]:
        r.fail(f"{what}: status.exit_code: expected {fx['program_exit_code']}, got {status}")
    any_leak = any((p.get("leaks") or {}).get("bytes") for p in fx["processes"])
    failed = fx.get("program_signal") or fx["program_exit_code"] != 0
    verdict = "program-failed" if failed else ("leaks" if any_leak else "clean")
    if doc.get("verdict") != verdict:
        r.fail(f"{what}: verdict: expected {verdict!r}, got {doc.get('verdict')!r}")
    if doc.get("complete") is not True:
        r.fail(f"{what}: complete: expected true, got {doc.get('complete')!r}")
    roles = r.match_processes(fx, doc, what)
    for exp in fx["processes"]:
        proc = roles[exp["role"]]
        w = f"{what} [{exp['role']} pid {proc.get('pid')}]"
        if proc.get("mode") != "full":
            r.fail(f"{w}: mode: expected 'full', got {proc.get('mode')!r}")
        if exp.get("leaks") is not None:
            r.compare_leaks(exp, proc, w, exact=True)
            if proc.get("ended") != "exited":
                r.fail(f"{w}: ended: expected 'exited', got {proc.get('ended')!r}")
        else:
            r.info(f"{w}: ended={proc.get('ended')} leaks={json.dumps(summary_leaks(proc))}")
        r.compare_peak(fx, exp, proc, w, sampled=False)
    # other processes (pre-exec images) must not add leaks
    matched = {id(p) for p in roles.values()}
    for p in doc.get("processes", []):
        if id(p) in matched:
            continue
        lk = p.get("leaks") or {}
        if p.get("ended") != "exec" or lk.get("bytes"):
            r.fail(f"{what}: unexpected process pid={p.get('pid')} {p.get('executable')} ended={p.get('ended')} "
                   f"leaks={lk.get('bytes')} bytes")
    if all(e.get("leaks") is not None for e in fx["processes"]):
        eb = sum(e["leaks"]["bytes"] for e in fx["processes"])
        ek = sum(e["leaks"]["blocks"] for e in fx["processes"])
        t = doc.get("totals") or {}
        if (t.get("leaked_bytes"), t.get("leaked_blocks")) != (eb, ek):
            r.fail(f"{what}: totals: expected {eb} bytes in {ek} blocks, got "
                   f"{t.get('leaked_bytes')} bytes in {t.get('leaked_blocks')} blocks")


def summary_leaks(proc):
    lk = proc.get("leaks") or {}
    return {k: lk.get(k) for k in ("bytes", "blocks", "exact")}


def case_sampled(r, name, key="sample_interval"):
    fx = r.expected["fixtures"][name]
    interval, bounds = sampled_bounds(fx, key)
    for what, p in bounds:
        if p >= FAIL_PROB:
            raise SystemExit(f"check_groundtruth: {name}: sample interval {interval} gives P(fail) {p:.1e} "
                             f"for {what}; fix expected.json (run --case truth)")
    trace = r.path(f"{name}-{key}.trace")
    rc = fx.get("run_exit_code", fx["program_exit_code"])
    r.heaplens("run", "--sample-interval", str(interval), "-o", trace, "--quiet", "--",
               r.fixture(name), *fx["args"], expect_rc=rc, what=f"run {name}")
    res = r.heaplens("report", trace, "--format", "json", expect_rc=0, what=f"report {name}")
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        raise Mismatch(f"report {name}: stdout is not JSON: {e}: {tail(res.stdout)}")
    what = f"sampled {name} (interval {interval})"
    roles = r.match_processes(fx, doc, what)
    for exp in fx["processes"]:
        proc = roles[exp["role"]]
        w = f"{what} [{exp['role']} pid {proc.get('pid')}]"
        if proc.get("mode") != "sampled":
            r.fail(f"{w}: mode: expected 'sampled', got {proc.get('mode')!r}")
        if exp.get("leaks") is not None:
            r.compare_leaks(exp, proc, w, exact=False)
        if key == "sample_interval":
            r.compare_peak(fx, exp, proc, w, sampled=True)
        else:
            r.info(f"{w}: peak {(proc.get('peak') or {}).get('bytes')} (not checked at this interval)")
    return doc


def case_sigkill(r):
    name = "gt_sigkill"
    fx = r.expected["fixtures"][name]
    doc = case_sampled(r, name)
    status = doc.get("status") or {}
    if status.get("signal") != 9:
        r.fail(f"sigkill: report status: expected signal 9, got {status}")
    roles = r.match_processes(fx, doc, "sigkill")
    exp = fx["processes"][0]
    proc = roles["main"]
    if proc.get("ended") not in ("vanished", "corrupt"):
        r.fail(f"sigkill: ended: expected 'vanished' (killed, no exit record), got {proc.get('ended')!r}")
    # the live set up to the kill: reported as the blocks not freed when the image ended
    live = exp["live_at_kill"]
    leaks = proc.get("leaks") or {}
    gb = leaks.get("bytes")
    if gb is None or abs(gb - live["bytes"]) > SAMPLED_LEAK_TOL * live["bytes"]:
        r.fail(f"sigkill: blocks live at the kill (leaks.bytes): expected {live['bytes']} +/- 10%, got {gb}")
    large = [s for s in leaks.get("sites", []) if s.get("stack") and frame_function(s["stack"][0]) == "live_large"]
    lb = sum(s.get("bytes", 0) for s in large)
    if lb != 8 * 1048576:
        r.fail(f"sigkill: live_large (8 x 1 MiB, large path, exact): expected 8388608 bytes, got {lb}")


def case_thresholds(r):
    name = "gt_sites"
    fx = r.expected["fixtures"][name]
    L = fx["processes"][0]["leaks"]["bytes"]
    K = fx["processes"][0]["leaks"]["blocks"]
    cases = [
        (["--max-leaked-bytes", str(L), "--max-leaked-blocks", str(K)], 0, "both limits equal to the leak"),
        (["--max-leaked-bytes", str(L + 1), "--max-leaked-blocks", str(K + 1)], 0, "both limits just above"),
        (["--max-leaked-bytes", str(L - 1), "--max-leaked-blocks", str(K)], DEFAULT_EXIT_LEAKS, "bytes limit just below"),
        (["--max-leaked-bytes", str(L), "--max-leaked-blocks", str(K - 1)], DEFAULT_EXIT_LEAKS, "blocks limit just below"),
        (["--max-leaked-bytes", str(L + 1)], 0,
         "only --max-leaked-bytes, just above (assumes a limit not given is not enforced once another is)"),
        (["--max-leaked-blocks", str(K)], 0, "only --max-leaked-blocks, equal (same assumption)"),
        (["--max-leaked-bytes", str(L - 1)], DEFAULT_EXIT_LEAKS, "only --max-leaked-bytes, just below"),
    ]
    for i, (extra, rc, why) in enumerate(cases):
        doc = r.check_json(name, *extra, rc=rc, tag=f"thr{i}")
        want = "clean" if rc == 0 else "leaks"
        if doc.get("verdict") != want:
            r.fail(f"thresholds ({why}: {' '.join(extra)}): verdict: expected {want!r}, got {doc.get('verdict')!r}")
        t = doc.get("totals") or {}
        if t.get("leaked_bytes") != L:
            r.fail(f"thresholds ({why}): totals.leaked_bytes: expected {L} (limits change the verdict, not "
                   f"the figures), got {t.get('leaked_bytes')}")


def case_error_exitcode(r):
    r.check_json("gt_sites", "--error-exitcode", "7", rc=7, tag="errexit")
    r.check_json("gt_clean", "--error-exitcode", "7", rc=0, tag="errexit")
    r.check_json("gt_exit_code", "--error-exitcode", "7", rc=3, tag="errexit")


def case_suppressions(r):
    name = "gt_sites"
    fx = r.expected["fixtures"][name]
    exp = fx["processes"][0]
    target = "leak_page_blocks"
    tsite = next(s for s in exp["sites"] if s["function"] == target)
    base = r.check_json(name, tag="supp-base")
    supp = r.path("one.supp")
    with open(supp, "w") as f:
        f.write("# ground truth: silence exactly one site\n")
        f.write(f"leak:{target}\n")
    doc = r.check_json(name, "--suppressions", supp, rc=DEFAULT_EXIT_LEAKS, tag="supp-one")
    w = "suppressions (leak:%s)" % target
    reduced = dict(exp, sites=[s for s in exp["sites"] if s["function"] != target],
                   leaks={"bytes": exp["leaks"]["bytes"] - tsite["bytes"],
                          "blocks": exp["leaks"]["blocks"] - tsite["blocks"]})
    roles = r.match_processes(fx, doc, w)
    proc = roles["main"]
    r.compare_leaks(reduced, proc, w, exact=True)
    lk = proc.get("leaks") or {}
    sup_sites = [s for s in lk.get("sites", []) if s.get("stack") and frame_function(s["stack"][0]) == target]
    if not sup_sites or any(s.get("suppressed_by") != f"leak:{target}" for s in sup_sites):
        r.fail(f"{w}: site {target}: suppressed_by: expected 'leak:{target}', got "
               f"{[s.get('suppressed_by') for s in sup_sites]}")
    bproc = r.match_processes(fx, base, w + " baseline")["main"]
    bl = bproc.get("leaks") or {}
    for key, delta in (("suppressed_bytes", tsite["bytes"]), ("suppressed_blocks", tsite["blocks"])):
        if lk.get(key, 0) - bl.get(key, 0) != delta:
            r.fail(f"{w}: {key}: expected the baseline's {bl.get(key)} + {delta}, got {lk.get(key)}")
    t, bt = doc.get("totals") or {}, base.get("totals") or {}
    if t.get("suppressed_bytes", 0) - bt.get("suppressed_bytes", 0) != tsite["bytes"]:
        r.fail(f"{w}: totals.suppressed_bytes: expected baseline {bt.get('suppressed_bytes')} + {tsite['bytes']}, "
               f"got {t.get('suppressed_bytes')}")
    # every site suppressed: clean
    with open(supp, "w") as f:
        for s in exp["sites"]:
            f.write(f"leak:{s['function']}\n")
    doc = r.check_json(name, "--suppressions", supp, rc=0, tag="supp-all")
    if doc.get("verdict") != "clean":
        r.fail(f"suppressions (all sites): verdict: expected 'clean', got {doc.get('verdict')!r}")


def validate_junit(r, path, want_failures, what):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        r.fail(f"{what}: not well-formed XML: {e}")
        return
    if root.tag != "testsuites":
        r.fail(f"{what}: root element: expected <testsuites>, got <{root.tag}>")
        return
    suites = root.findall("testsuite")
    if not suites:
        r.fail(f"{what}: no <testsuite> under <testsuites>")
    failing = []
    for ts in suites:
        for attr in ("name", "tests", "failures", "errors", "time"):
            if attr not in ts.attrib:
                r.fail(f"{what}: <testsuite> lacks attribute {attr!r}: {ts.attrib}")
        cases = ts.findall("testcase")
        nfail = 0
        for tc in cases:
            for attr in ("name", "classname", "time"):
                if attr not in tc.attrib:
                    r.fail(f"{what}: <testcase> lacks attribute {attr!r}: {tc.attrib}")
            try:
                float(tc.attrib.get("time", "0"))
            except ValueError:
                r.fail(f"{what}: <testcase time={tc.attrib.get('time')!r}> is not a number")
            fails = tc.findall("failure")
            if len(fails) > 1:
                r.fail(f"{what}: testcase {tc.attrib.get('name')!r} has {len(fails)} <failure> elements")
            for fl in fails:
                for attr in ("message", "type"):
                    if attr not in fl.attrib:
                        r.fail(f"{what}: <failure> lacks attribute {attr!r}: {fl.attrib}")
                failing.append(tc)
            nfail += len(fails)
        try:
            if int(ts.attrib.get("tests", -1)) != len(cases):
                r.fail(f"{what}: testsuite tests={ts.attrib.get('tests')} but it has {len(cases)} <testcase>")
            if int(ts.attrib.get("failures", -1)) != nfail:
                r.fail(f"{what}: testsuite failures={ts.attrib.get('failures')} but {nfail} <failure>")
            int(ts.attrib.get("errors", 0))
            float(ts.attrib.get("time", 0))
        except ValueError as e:
            r.fail(f"{what}: testsuite has a non-numeric count or time: {e}")
    if len(failing) != len(want_failures):
        r.fail(f"{what}: expected {len(want_failures)} failing testcases (one per unsuppressed leak site: "
               f"{sorted(want_failures)}), got {len(failing)}")
    for fn in want_failures:
        hit = [tc for tc in failing if fn in ET.tostring(tc, encoding="unicode")]
        if len(hit) != 1:
            r.fail(f"{what}: expected exactly one failing testcase naming {fn}, got {len(hit)}")


def case_junit(r):
    name = "gt_sites"
    exp = r.expected["fixtures"][name]["processes"][0]
    xml = r.path("sites.xml")
    r.check_json(name, "--junit", xml, tag="junit")
    validate_junit(r, xml, [s["function"] for s in exp["sites"]], "junit gt_sites")
    supp = r.path("one.supp")
    with open(supp, "w") as f:
        f.write("leak:leak_page_blocks\n")
    xml2 = r.path("sites-supp.xml")
    r.check_json(name, "--junit", xml2, "--suppressions", supp, tag="junit-supp")
    validate_junit(r, xml2, [s["function"] for s in exp["sites"] if s["function"] != "leak_page_blocks"],
                   "junit gt_sites with leak:leak_page_blocks")
    xml3 = r.path("clean.xml")
    r.check_json("gt_clean", "--junit", xml3, tag="junit")
    validate_junit(r, xml3, [], "junit gt_clean")


def all_cases(expected):
    names = ["truth"]
    for fx in expected["fixtures"]:
        names.append(f"check.{fx}")
    for fx in expected["fixtures"]:
        if fx != "gt_sigkill":
            names.append(f"sampled.{fx}")
    for fx, v in expected["fixtures"].items():
        if "estimate_interval" in v["sampled"]:
            names.append(f"estimate.{fx}")
    names += ["sigkill", "thresholds", "error-exitcode", "suppressions", "junit"]
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heaplens")
    ap.add_argument("--preload")
    ap.add_argument("--fixtures-dir")
    ap.add_argument("--expected", required=True)
    ap.add_argument("--case", default="truth")
    ap.add_argument("--list", action="store_true", help="print the case names")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    with open(args.expected) as f:
        expected = json.load(f)
    if args.list:
        print("\n".join(all_cases(expected)))
        return 0
    if args.case == "truth":
        errors = case_truth(expected)
        return report(args.case, errors, None)
    if args.case not in all_cases(expected):
        print(f"check_groundtruth: unknown case {args.case!r}; --list shows them", file=sys.stderr)
        return 2
    for opt in ("heaplens", "preload", "fixtures_dir"):
        if not getattr(args, opt):
            print(f"check_groundtruth: --{opt.replace('_', '-')} is required for case {args.case}", file=sys.stderr)
            return 2
    r = Runner(args, expected)
    try:
        kind, _, fx = args.case.partition(".")
        if kind == "check":
            case_check(r, fx)
        elif kind == "sampled":
            case_sampled(r, fx)
        elif kind == "estimate":
            case_sampled(r, fx, "estimate_interval")
        elif args.case == "sigkill":
            case_sigkill(r)
        elif args.case == "thresholds":
            case_thresholds(r)
        elif args.case == "error-exitcode":
            case_error_exitcode(r)
        elif args.case == "suppressions":
            case_suppressions(r)
        elif args.case == "junit":
            case_junit(r)
    except Mismatch as e:
        r.fail(str(e))
    keep = args.keep or bool(r.errors)
    rc = report(args.case, r.errors, r.workdir if keep else None)
    if not keep:
        shutil.rmtree(r.workdir, ignore_errors=True)
    return rc


def report(case, errors, workdir):
    if not errors:
        print(f"groundtruth {case}: OK")
        return 0
    print(f"groundtruth {case}: {len(errors)} mismatch(es) with expected.json:")
    for e in errors:
        print(f"  - {e}")
    if workdir:
        print(f"  (outputs kept in {workdir})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
