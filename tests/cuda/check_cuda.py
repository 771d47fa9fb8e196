#!/usr/bin/env python3
"""Holds the CUDA fixtures, the stub libraries' own accounting and heaplens's reports to the
truth in expected.json.

usage: check_cuda.py --expected expected.json --case NAME --fixtures-dir DIR --stub-dir DIR
                     [--heaplens PATH --preload LIBHEAPLENS] [--keep]
       check_cuda.py --expected expected.json --list
       check_cuda.py --expected expected.json --case truth        (needs nothing built)

Cases (one ctest each, cuda.<case>, see CMakeLists.txt):
  truth               expected.json is self-consistent (sites sum to the leaks, kinds to the
                      device totals, pool figures to each other)
  native.<fixture>    without heaplens, found once through the fixture's RUNPATH and once
                      through LD_LIBRARY_PATH: stdout, exit code, empty stderr, and the stub
                      driver's own accounting (STUB_CUDA_REPORT) per device: counts, bytes,
                      peak, live blocks, per-kind figures, failed allocations, invalid frees
                      (native.cuda_driver_fixture also: STUB_CUDA_MEM_LIMIT, STUB_CUDA_DEVICES)
  heaplens.<fixture>  `heaplens check --json` and `heaplens run` + `report --format json`: the
                      fixture behaves the same (stdout, exit code); per device exactly the
                      expected allocations, frees, bytes, peak, live and leaked bytes/blocks,
                      leak sites (function of stack[0], kind) and per-kind figures; no host
                      leak; no pool figures (the pool is off by default)
  check               on cuda_runtime_fixture: check exits 23 on device leaks and 0 with
                      --max-leaked-device-bytes/--max-leaked-device-blocks at the leak,
                      host limits do not cover device leaks, `leak:leak_device_buffer`
                      suppresses exactly that site (on both devices), JUnit names device
                      sites with their device, HEAPLENS_CUDA=0 records no device memory
  pool                HEAPLENS_CUDA_POOL=1 on cuda_runtime_fixture: same behaviour, same
                      device figures (the records describe the program's requests), the pool's
                      exact counters, and its reserved bytes equal to what the stub driver
                      really holds for it

Leak sites are compared by the function of stack[0] and the site's kind, summed over sites
with the same function and kind on the same device. Every mismatch is one line.

Exit 0 on success, 1 on a mismatch, 2 on a usage or setup error.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

LEAK_EXIT = 23
TIMEOUT = 60  # seconds for one command; the fixtures take well under one
COUNTS = ("allocations", "frees", "bytes", "peak_bytes", "live_bytes", "live_blocks")
KIND_FIELDS = ("allocations", "bytes", "live_bytes", "peak_bytes")
KINDS = ("device", "managed", "pinned_host", "async", "vmm", "array")
POOL_EXACT = ("hits", "misses", "trims", "driver_frees", "requested_bytes", "in_use_bytes", "reserved_bytes",
              "cached_bytes", "largest_cached")
POOL_RATIOS = ("hit_rate", "fragmentation")
CHECK_FIXTURE = "cuda_runtime_fixture"   # cases check and pool
SUPPRESSED = "leak_device_buffer"


class Mismatch(Exception):
    pass


def device_field(name):
    """'cuda:N' -> the record field value 1 + N."""
    return 1 + int(name.split(":", 1)[1])


def frame_function(frame):
    """The function of a frame, without a parameter list."""
    name = (frame.get("function") or "").strip()
    if name.endswith(")") and "(" in name:
        name = name[: name.index("(")]
    return name


def site_function(site):
    stack = site.get("stack") or []
    return frame_function(stack[0]) if stack else "<empty stack>"


def describe(site):
    frames = " <- ".join(frame_function(f) or f.get("pc", "?") for f in (site.get("stack") or [])[:5])
    return (f"{site.get('bytes')} bytes in {site.get('blocks')} blocks, kind {site.get('kind')!r}, "
            f"device {site.get('device')} at [{frames}]")


def tail(text, n=600):
    text = (text or "").strip()
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- the truth itself
def case_truth(expected):
    errors = []
    for name, fx in expected["fixtures"].items():
        for dev, d in fx["devices"].items():
            w = f"{name} {dev}"
            lk = d["leaks"]
            for s in lk["sites"]:
                if s["bytes"] != s["block_size"] * s["blocks"]:
                    errors.append(f"{w}: site {s['function']}: {s['blocks']} x {s['block_size']} != {s['bytes']}")
                if s["kind"] not in KINDS:
                    errors.append(f"{w}: site {s['function']}: unknown kind {s['kind']!r}")
            sb = sum(s["bytes"] for s in lk["sites"])
            sk = sum(s["blocks"] for s in lk["sites"])
            if (sb, sk) != (lk["bytes"], lk["blocks"]):
                errors.append(f"{w}: sites sum to {sb} bytes / {sk} blocks, leaks say {lk['bytes']} / {lk['blocks']}")
            if (lk["bytes"], lk["blocks"]) != (d["live_bytes"], d["live_blocks"]):
                errors.append(f"{w}: leaks {lk['bytes']}/{lk['blocks']} != live at exit {d['live_bytes']}/{d['live_blocks']}")
            if d["allocations"] - d["frees"] != d["live_blocks"]:
                errors.append(f"{w}: allocations - frees = {d['allocations'] - d['frees']} != live_blocks {d['live_blocks']}")
            bk = d["by_kind"]
            for f in ("allocations", "bytes", "live_bytes"):
                total = sum(k[f] for k in bk.values())
                if total != d[f]:
                    errors.append(f"{w}: by_kind {f} sum to {total}, the device says {d[f]}")
            for kind, k in bk.items():
                live = sum(s["bytes"] for s in lk["sites"] if s["kind"] == kind)
                if live != k["live_bytes"]:
                    errors.append(f"{w}: by_kind {kind} live_bytes {k['live_bytes']} != its sites' {live}")
                if k["peak_bytes"] is not None and not (k["live_bytes"] <= k["peak_bytes"] <= d["peak_bytes"]):
                    errors.append(f"{w}: by_kind {kind} peak_bytes {k['peak_bytes']} outside [live, device peak]")
        for dev, p in (fx.get("pool") or {}).items():
            w = f"{name} pool {dev}"
            errors += [f"{w}: {e}" for e in pool_invariants(p)]
            pooled = sum(s["bytes"] for s in fx["devices"][dev]["leaks"]["sites"] if s.get("pooled"))
            if p["requested_bytes"] != pooled:
                errors.append(f"{w}: requested_bytes {p['requested_bytes']} != the pooled leak sites' {pooled}")
    return errors


def pool_invariants(p):
    errs = []
    if p["cached_bytes"] != p["reserved_bytes"] - p["in_use_bytes"]:
        errs.append(f"cached_bytes {p['cached_bytes']} != reserved_bytes - in_use_bytes "
                    f"({p['reserved_bytes']} - {p['in_use_bytes']})")
    if p["in_use_bytes"] < p["requested_bytes"]:
        errs.append(f"in_use_bytes {p['in_use_bytes']} < requested_bytes {p['requested_bytes']}")
    if p["largest_cached"] > p["cached_bytes"]:
        errs.append(f"largest_cached {p['largest_cached']} > cached_bytes {p['cached_bytes']}")
    n = p["hits"] + p["misses"]
    want = p["hits"] / n if n else 0.0
    if p.get("hit_rate") is None or not math.isclose(p["hit_rate"], want, abs_tol=1e-9):
        errs.append(f"hit_rate {p.get('hit_rate')} != hits / (hits + misses) = {want}")
    want = 1 - p["largest_cached"] / p["cached_bytes"] if p["cached_bytes"] else 0.0
    if p.get("fragmentation") is None or not math.isclose(p["fragmentation"], want, abs_tol=1e-9):
        errs.append(f"fragmentation {p.get('fragmentation')} != 1 - largest_cached / cached_bytes = {want}")
    return errs


# ---------------------------------------------------------------- running things
class Runner:
    def __init__(self, args, expected):
        self.args = args
        self.expected = expected
        self.workdir = tempfile.mkdtemp(prefix=f"cuda-{args.case}-")
        self.errors = []
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("LD_PRELOAD", "LD_LIBRARY_PATH") and not k.startswith(("STUB_CUDA_", "HEAPLENS_"))}
        if args.preload:
            self.env["HEAPLENS_PRELOAD"] = os.path.abspath(args.preload)
        self.last = ""

    def fail(self, msg):
        self.errors.append(msg)

    def path(self, name):
        return os.path.join(self.workdir, name)

    def fixture(self, name):
        p = os.path.join(os.path.abspath(self.args.fixtures_dir), name)
        if not os.access(p, os.X_OK):
            raise SystemExit(f"check_cuda: fixture {p} is missing (build target cuda_fixtures)")
        return p

    def run(self, argv, env_extra, what):
        """Runs argv in its own process group: on a timeout (a hang under heaplens) the whole
        group goes, the fixture under `heaplens check` included."""
        env = dict(self.env, **env_extra)
        settings = " ".join(f"{k}={v}" for k, v in env_extra.items())
        self.last = f"{settings} {' '.join(argv)}".strip()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace", start_new_session=True)
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise Mismatch(f"{what}: hung, killed after {TIMEOUT}s: {self.last} (stdout {tail(out, 200)!r}, "
                           f"stderr {tail(err)!r})")
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def heaplens(self, *argv, env=None, what=""):
        if not self.args.heaplens:
            raise SystemExit(f"check_cuda: --heaplens and --preload are required for case {self.args.case}")
        for what_, p in (("heaplens", self.args.heaplens), ("libheaplens.so (--preload)", self.args.preload)):
            if not p or not os.path.exists(p):
                raise SystemExit(f"check_cuda: {what_} {p} is missing (build targets heaplens_cli and heaplens)")
        return self.run([self.args.heaplens, *argv], env or {}, what)

    def load(self, path, what):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise Mismatch(f"{what}: cannot read JSON {path}: {e} (command: {self.last})")

    def behaviour(self, res, fx, rc, what, stderr_empty):
        """The fixture's own output and the exit status."""
        if res.stdout != fx["stdout"]:
            self.fail(f"{what}: stdout {res.stdout!r}, expected {fx['stdout']!r} (command: {self.last}; "
                      f"stderr: {tail(res.stderr)})")
        if res.returncode != rc:
            self.fail(f"{what}: exit code {res.returncode}, expected {rc} (command: {self.last}; "
                      f"stderr: {tail(res.stderr)})")
        fails = [l for l in res.stderr.splitlines() if ": FAIL " in l]
        if fails:
            self.fail(f"{what}: the fixture saw a changed behaviour: {fails[0]}")
        elif stderr_empty and res.stderr:
            self.fail(f"{what}: stderr not empty: {tail(res.stderr)}")

    def info(self, msg):
        print("  " + msg)


# ---------------------------------------------------------------- native: the stubs' accounting
def expand_sites(sites):
    return sorted((s["kind"], s["block_size"]) for s in sites for _ in range(s["blocks"]))


def compare_stub(r, fx, doc, what):
    got_devs = doc.get("devices") or {}
    used = {n for n, d in got_devs.items() if d.get("allocations")}
    if used != set(fx["devices"]):
        r.fail(f"{what}: devices with allocations {sorted(used)}, expected {sorted(fx['devices'])}")
    for name, exp in fx["devices"].items():
        got = got_devs.get(name)
        if got is None:
            continue
        w = f"{what} {name}"
        for f in COUNTS:
            if got.get(f) != exp[f]:
                r.fail(f"{w}: {f} {got.get(f)}, expected {exp[f]}")
        for f, v in exp["stub"].items():
            if got.get(f) != v:
                r.fail(f"{w}: {f} {got.get(f)}, expected {v}")
        gk = got.get("by_kind") or {}
        for kind in sorted(set(gk) | set(exp["by_kind"])):
            e, g = exp["by_kind"].get(kind), gk.get(kind)
            if e is None or g is None:
                r.fail(f"{w}: kind {kind}: {'unexpected' if e is None else 'missing'} "
                       f"({json.dumps(g if e is None else e)})")
                continue
            for f in KIND_FIELDS:
                if e[f] is not None and g.get(f) != e[f]:
                    r.fail(f"{w}: by_kind {kind} {f} {g.get(f)}, expected {e[f]}")
        live = sorted(tuple(b) for b in got.get("live", []))
        want = expand_sites(exp["leaks"]["sites"])
        if live != want:
            r.fail(f"{w}: blocks alive at exit [kind, bytes] {live}, expected {want}")


def case_native(r, name):
    fx = r.expected["fixtures"][name]
    stub_dir = os.path.abspath(r.args.stub_dir)
    for how, extra in (("RUNPATH", {}), ("LD_LIBRARY_PATH", {"LD_LIBRARY_PATH": stub_dir})):
        report = r.path(f"stub-{how}.json")
        env = dict(fx["env"], STUB_CUDA_REPORT=report, **extra)
        what = f"native {name} (stubs found through {how})"
        res = r.run([r.fixture(name), *fx["args"]], env, what)
        r.behaviour(res, fx, fx["exit_code"], what, stderr_empty=True)
        compare_stub(r, fx, r.load(report, f"{what}: the stub's report"), what)
    if name == "cuda_driver_fixture":
        stub_settings(r, name)


def stub_settings(r, name):
    """The stub's own settings work: a memory limit fails the first allocation beyond it (the
    fixture frees 4 MiB, then cuMemAlloc_v2 of 10 MiB must fail); one device is one device."""
    for env, want in (({"STUB_CUDA_MEM_LIMIT": str(4 << 20)}, ("cuMemAlloc_v2(&d, 10 *", "returned 2, expected 0")),
                      ({"STUB_CUDA_DEVICES": "1"}, ("count >= 2",))):
        what = f"native {name} with {env}"
        res = r.run([r.fixture(name)], env, what)
        if res.returncode != 1 or not all(w in res.stderr for w in want):
            r.fail(f"{what}: expected exit 1 and {want!r} on stderr, got exit {res.returncode}, "
                   f"stderr {tail(res.stderr)!r}")


# ---------------------------------------------------------------- heaplens: the report
def the_process(doc, name, what):
    procs = [p for p in doc.get("processes") or []
             if os.path.basename(p.get("executable") or "") == name and p.get("ended") != "exec"]
    if len(procs) != 1:
        raise Mismatch(f"{what}: expected one process of {name}, got {len(procs)}: " + ", ".join(
            f"pid={p.get('pid')} {p.get('executable')} ended={p.get('ended')}" for p in doc.get("processes") or []))
    return procs[0]


def sum_sites(sites):
    out = {}
    for s in sites:
        key = (s["function"], s["kind"]) if "function" in s else (site_function(s), s.get("kind"))
        g = out.setdefault(key, {"bytes": 0, "blocks": 0, "sites": []})
        g["bytes"] += s.get("bytes", 0)
        g["blocks"] += s.get("blocks", 0)
        g["sites"].append(s)
    return out


def compare_report(r, fx, doc, what, suppressed=(), pool=None, hooks=True):
    """One process's host and device figures against the truth. suppressed: functions whose
    device sites a suppression moves out of the leaks; pool: expected pool figures (else the
    device entries must have none); hooks=False: HEAPLENS_CUDA=0, no device at all."""
    name = os.path.basename(r.fixture_name)
    proc = the_process(doc, name, what)
    # ---- the host: no leak of its own, nothing of the devices in its figures
    hl = proc.get("leaks") or {}
    if (hl.get("bytes"), hl.get("blocks")) != (0, 0):
        r.fail(f"{what}: host leaks {hl.get('bytes')} bytes in {hl.get('blocks')} blocks, expected none: "
               + "; ".join(describe(s) for s in hl.get("sites", []) if not s.get("suppressed_by"))[:600])
    for s in hl.get("sites", []):
        if s.get("device", 0) != 0:
            r.fail(f"{what}: a device site among the host's leaks: {describe(s)}")
    devs = proc.get("devices")
    if not isinstance(devs, list) or not devs:
        raise Mismatch(f"{what}: processes[].devices missing or empty: {json.dumps(devs)[:200]}")
    host = devs[0]
    if (host.get("device"), host.get("name")) != (0, "host"):
        r.fail(f"{what}: devices[0] is {{device {host.get('device')}, name {host.get('name')!r}}}, expected the host")
    hle = host.get("leaks") or {}
    if (hle.get("bytes"), hle.get("blocks")) != (hl.get("bytes"), hl.get("blocks")):
        r.fail(f"{what}: the host entry's leaks {hle.get('bytes')}/{hle.get('blocks')} != the process's "
               f"{hl.get('bytes')}/{hl.get('blocks')}")
    want_names = list(fx["devices"]) if hooks else []
    got_names = [d.get("name") for d in devs[1:]]
    if got_names != want_names:
        r.fail(f"{what}: device entries {got_names}, expected {want_names} (host first, then by ordinal)")
    # ---- each device
    t_bytes = t_blocks = 0
    for d in devs[1:]:
        dn = d.get("name")
        exp = fx["devices"].get(dn) if hooks else None
        if exp is None:
            continue
        w = f"{what} {dn}"
        if d.get("device") != device_field(dn):
            r.fail(f"{w}: device {d.get('device')}, expected {device_field(dn)}")
        for f in COUNTS:
            if d.get(f) != exp[f]:
                r.fail(f"{w}: {f} {d.get(f)}, expected {exp[f]}")
        compare_device_leaks(r, exp, d, w, suppressed)
        leaks = d.get("leaks") or {}
        t_bytes += leaks.get("bytes") or 0
        t_blocks += leaks.get("blocks") or 0
        bk = d.get("by_kind")
        if not isinstance(bk, dict):
            r.fail(f"{w}: by_kind missing")
        else:
            for kind in sorted(set(bk) | set(exp["by_kind"])):
                e, g = exp["by_kind"].get(kind), bk.get(kind) or {}
                if e is None:
                    if g.get("allocations"):
                        r.fail(f"{w}: by_kind {kind}: unexpected {json.dumps(g)}")
                    continue
                for f in KIND_FIELDS:
                    if e[f] is not None and g.get(f) != e[f]:
                        r.fail(f"{w}: by_kind {kind} {f} {g.get(f)}, expected {e[f]}")
        if pool is None:
            if "pool" in d:
                r.fail(f"{w}: pool figures present with the pool off: {json.dumps(d['pool'])[:200]}")
        else:
            compare_pool(r, pool.get(dn), d.get("pool"), w)
    # ---- totals
    t = doc.get("totals") or {}
    want_b = sum(e["leaks"]["bytes"] - sup_bytes(e, suppressed) for e in fx["devices"].values()) if hooks else 0
    want_k = sum(e["leaks"]["blocks"] - sup_blocks(e, suppressed) for e in fx["devices"].values()) if hooks else 0
    if (t.get("device_leaked_bytes"), t.get("device_leaked_blocks")) != (want_b, want_k):
        r.fail(f"{what}: totals device_leaked_bytes/blocks {t.get('device_leaked_bytes')}/"
               f"{t.get('device_leaked_blocks')}, expected {want_b}/{want_k}")
    if (t.get("leaked_bytes"), t.get("leaked_blocks")) != (0, 0):
        r.fail(f"{what}: totals leaked_bytes/blocks (host) {t.get('leaked_bytes')}/{t.get('leaked_blocks')}, expected 0/0")
    return proc


def sup_sites(exp, suppressed):
    return [s for s in exp["leaks"]["sites"] if s["function"] in suppressed]


def sup_bytes(exp, suppressed):
    return sum(s["bytes"] for s in sup_sites(exp, suppressed))


def sup_blocks(exp, suppressed):
    return sum(s["blocks"] for s in sup_sites(exp, suppressed))


def compare_device_leaks(r, exp, d, w, suppressed):
    leaks = d.get("leaks")
    if not isinstance(leaks, dict):
        r.fail(f"{w}: leaks missing")
        return
    sb, sk = sup_bytes(exp, suppressed), sup_blocks(exp, suppressed)
    want = (exp["leaks"]["bytes"] - sb, exp["leaks"]["blocks"] - sk)
    if (leaks.get("bytes"), leaks.get("blocks")) != want:
        r.fail(f"{w}: leaks {leaks.get('bytes')} bytes in {leaks.get('blocks')} blocks, expected {want[0]} in {want[1]}")
    if leaks.get("exact") is not True:
        r.fail(f"{w}: leaks.exact {leaks.get('exact')!r}, expected true (device memory is never sampled)")
    if (leaks.get("suppressed_bytes"), leaks.get("suppressed_blocks")) != (sb, sk):
        r.fail(f"{w}: suppressed_bytes/blocks {leaks.get('suppressed_bytes')}/{leaks.get('suppressed_blocks')}, "
               f"expected {sb}/{sk}")
    sites = leaks.get("sites") or []
    dn = d.get("name")
    for s in sites:
        if s.get("device") != device_field(dn) or s.get("device_name") != dn:
            r.fail(f"{w}: site device {s.get('device')} / device_name {s.get('device_name')!r}, expected "
                   f"{device_field(dn)} / {dn!r}: {describe(s)}")
        if s.get("exact") is not True:
            r.fail(f"{w}: site not exact: {describe(s)}")
    for label, got_sites, exp_sites in (
            ("leak site", [s for s in sites if not s.get("suppressed_by")],
             [s for s in exp["leaks"]["sites"] if s["function"] not in suppressed]),
            ("suppressed site", [s for s in sites if s.get("suppressed_by")], sup_sites(exp, suppressed))):
        got, want_sites = sum_sites(got_sites), sum_sites(exp_sites)
        for key, g in got.items():
            if key not in want_sites:
                for s in g["sites"]:
                    r.fail(f"{w}: unexpected {label}: {describe(s)}"
                           + (f" (suppressed_by {s.get('suppressed_by')})" if s.get("suppressed_by") else ""))
        for key, e in want_sites.items():
            g = got.get(key)
            if g is None:
                others = [describe(s) for s in got_sites if site_function(s) == key[0]]
                r.fail(f"{w}: missing {label} {key[0]} (kind {key[1]}): expected {e['bytes']} bytes in "
                       f"{e['blocks']} blocks" + (f"; that function's sites: {others}" if others else ""))
            elif (g["bytes"], g["blocks"]) != (e["bytes"], e["blocks"]):
                r.fail(f"{w}: {label} {key[0]} (kind {key[1]}): {g['bytes']} bytes in {g['blocks']} blocks, "
                       f"expected {e['bytes']} in {e['blocks']}")
            elif label == "suppressed site":
                for s in g["sites"]:
                    if s.get("suppressed_by") != f"leak:{key[0]}":
                        r.fail(f"{w}: site {key[0]}: suppressed_by {s.get('suppressed_by')!r}, expected 'leak:{key[0]}'")


def compare_pool(r, exp, got, w):
    if exp is None:
        if got is not None:
            r.fail(f"{w}: unexpected pool figures {json.dumps(got)[:200]}")
        return
    if not isinstance(got, dict):
        r.fail(f"{w}: pool figures missing (HEAPLENS_CUDA_POOL=1)")
        return
    for f in POOL_EXACT:
        if got.get(f) != exp[f]:
            r.fail(f"{w}: pool {f} {got.get(f)}, expected {exp[f]}")
    for f in POOL_RATIOS:
        if not isinstance(got.get(f), (int, float)) or not math.isclose(got[f], exp[f], abs_tol=1e-6):
            r.fail(f"{w}: pool {f} {got.get(f)}, expected {exp[f]:.6f}")
    if all(isinstance(got.get(f), (int, float)) for f in POOL_EXACT):
        for e in pool_invariants(got):
            r.fail(f"{w}: pool figures inconsistent: {e}")


def check_run(r, name, what, *extra, rc=None, env=None, tag="check"):
    """`heaplens check --json J -o T [extra] -- fixture`: behaviour, exit code; the JSON."""
    fx = r.expected["fixtures"][name]
    out, trace = r.path(f"{tag}.json"), r.path(f"{tag}.trace")
    res = r.heaplens("check", "--json", out, "-o", trace, *extra, "--", r.fixture(name), *fx["args"],
                     env=dict(fx["env"], **(env or {})), what=what)
    r.behaviour(res, fx, fx["check_exit_code"] if rc is None else rc, what, stderr_empty=False)
    doc = r.load(out, what)
    if doc.get("complete") is not True:
        r.fail(f"{what}: complete {doc.get('complete')!r}, expected true")
    return doc, trace


def case_heaplens(r, name):
    fx = r.expected["fixtures"][name]
    r.fixture_name = name
    what = f"heaplens check {name}"
    doc, _ = check_run(r, name, what)
    want = "leaks" if any(d["leaks"]["bytes"] for d in fx["devices"].values()) else "clean"
    if doc.get("verdict") != want:
        r.fail(f"{what}: verdict {doc.get('verdict')!r}, expected {want!r}")
    proc = compare_report(r, fx, doc, what)
    if proc.get("mode") != "full":
        r.fail(f"{what}: mode {proc.get('mode')!r}, expected 'full'")
    # run (default mode) + report: device memory is recorded exactly in any mode
    what = f"heaplens run + report {name}"
    trace = r.path("run.trace")
    res = r.heaplens("run", "-q", "-o", trace, "--", r.fixture(name), *fx["args"], env=fx["env"], what=what)
    r.behaviour(res, fx, fx["exit_code"], what, stderr_empty=False)
    res = r.heaplens("report", trace, "--format", "json", what=what)
    if res.returncode != 0:
        raise Mismatch(f"{what}: report exited {res.returncode}: {tail(res.stderr)}")
    try:
        doc = json.loads(res.stdout)
    except ValueError as e:
        raise Mismatch(f"{what}: report's stdout is not JSON: {e}: {tail(res.stdout)}")
    proc = compare_report(r, fx, doc, what)
    r.info(f"{what}: mode {proc.get('mode')}")


def leak_totals(fx):
    return (sum(d["leaks"]["bytes"] for d in fx["devices"].values()),
            sum(d["leaks"]["blocks"] for d in fx["devices"].values()))


def case_check(r):
    name = CHECK_FIXTURE
    fx = r.expected["fixtures"][name]
    r.fixture_name = name
    L, K = leak_totals(fx)
    limits = [
        (["--max-leaked-device-bytes", str(L), "--max-leaked-device-blocks", str(K)], 0, "both device limits at the leak"),
        (["--max-leaked-device-bytes", str(L - 1), "--max-leaked-device-blocks", str(K)], LEAK_EXIT, "bytes limit 1 below"),
        (["--max-leaked-device-bytes", str(L), "--max-leaked-device-blocks", str(K - 1)], LEAK_EXIT, "blocks limit 1 below"),
        (["--max-leaked-device-bytes", str(L)], 0, "only the bytes limit, at the leak (blocks then unlimited)"),
        (["--max-leaked-device-blocks", str(K)], 0, "only the blocks limit, at the leak (bytes then unlimited)"),
        (["--max-leaked-bytes", str(L), "--max-leaked-blocks", str(K)], LEAK_EXIT,
         "host limits only (device limits stay 0/0)"),
    ]
    for i, (extra, rc, why) in enumerate(limits):
        what = f"check {' '.join(extra)} ({why})"
        doc, _ = check_run(r, name, what, *extra, rc=rc, tag=f"limits{i}")
        want = "clean" if rc == 0 else "leaks"
        if doc.get("verdict") != want:
            r.fail(f"{what}: verdict {doc.get('verdict')!r}, expected {want!r}")
        t = doc.get("totals") or {}
        if (t.get("device_leaked_bytes"), t.get("device_leaked_blocks")) != (L, K):
            r.fail(f"{what}: totals device_leaked_bytes/blocks {t.get('device_leaked_bytes')}/"
                   f"{t.get('device_leaked_blocks')}, expected {L}/{K} (limits change the verdict, not the figures)")
    # one suppression: exactly leak_device_buffer's sites, on both devices
    supp = r.path("one.supp")
    with open(supp, "w") as f:
        f.write(f"# silence exactly one device leak site\nleak:{SUPPRESSED}\n")
    what = f"check --suppressions (leak:{SUPPRESSED})"
    doc, _ = check_run(r, name, what, "--suppressions", supp, rc=LEAK_EXIT, tag="supp-one")
    compare_report(r, fx, doc, what, suppressed={SUPPRESSED})
    # every device site suppressed: clean
    with open(supp, "w") as f:
        for fn in sorted({s["function"] for d in fx["devices"].values() for s in d["leaks"]["sites"]}):
            f.write(f"leak:{fn}\n")
    what = "check --suppressions (every device site)"
    doc, _ = check_run(r, name, what, "--suppressions", supp, rc=0, tag="supp-all")
    if doc.get("verdict") != "clean":
        r.fail(f"{what}: verdict {doc.get('verdict')!r}, expected 'clean'")
    # JUnit: one failing testcase per device leak site, naming its function and device
    xml = r.path("leaks.xml")
    check_run(r, name, "check --junit", "--junit", xml, tag="junit")
    check_junit(r, fx, xml)
    # HEAPLENS_CUDA=0: no hooks, no device records; the program is unchanged
    what = "check with HEAPLENS_CUDA=0"
    doc, _ = check_run(r, name, what, rc=0, env={"HEAPLENS_CUDA": "0"}, tag="hooks-off")
    compare_report(r, fx, doc, what, hooks=False)


def check_junit(r, fx, path):
    what = "check --junit"
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        r.fail(f"{what}: not well-formed XML: {e}")
        return
    failing = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    want = [(s["function"], dev) for dev, d in fx["devices"].items() for s in d["leaks"]["sites"]]
    if len(failing) != len(want):
        r.fail(f"{what}: {len(failing)} failing testcases, expected {len(want)} (one per device leak site)")
    for fn, dev in want:
        word = re.compile(rf"\b{re.escape(fn)}\b")  # leak_3d, not leak_3d_array
        hits = [tc for tc in failing if word.search(ET.tostring(tc, encoding="unicode"))
                and re.search(rf"\b{re.escape(dev)}\b", tc.attrib.get("name", ""))]
        if len(hits) != 1:
            r.fail(f"{what}: expected one failing testcase naming {fn} with {dev} in its name, got {len(hits)}")


def case_pool(r):
    name = CHECK_FIXTURE
    fx = r.expected["fixtures"][name]
    r.fixture_name = name
    stub_report = r.path("stub-pool.json")
    env = {"HEAPLENS_CUDA_POOL": "1", "STUB_CUDA_REPORT": stub_report}
    what = "check with HEAPLENS_CUDA_POOL=1"
    doc, trace = check_run(r, name, what, env=env, tag="pool")
    compare_report(r, fx, doc, what, pool=fx["pool"])
    # the trace keeps the pool's figures
    what = "report of the pool's trace"
    res = r.heaplens("report", trace, "--format", "json", what=what)
    try:
        compare_report(r, fx, json.loads(res.stdout), what, pool=fx["pool"])
    except ValueError as e:
        r.fail(f"{what}: stdout is not JSON ({e}); exit {res.returncode}: {tail(res.stderr)}")
    # what the driver really holds for the pool: its reserved bytes, plus the device-kind
    # blocks the pool does not serve (pitched, 3D) still alive
    stub = r.load(stub_report, "the stub's report under the pool")
    for dev, p in fx["pool"].items():
        other = sum(s["bytes"] for s in fx["devices"][dev]["leaks"]["sites"] if s["kind"] == "device" and not s.get("pooled"))
        held = ((stub.get("devices") or {}).get(dev, {}).get("by_kind") or {}).get("device", {}).get("live_bytes")
        if held != p["reserved_bytes"] + other:
            r.fail(f"pool {dev}: the driver holds {held} bytes of device memory at exit, expected the pool's "
                   f"reserved {p['reserved_bytes']} + {other} not served by the pool")


def all_cases(expected):
    names = ["truth"]
    names += [f"native.{fx}" for fx in expected["fixtures"]]
    names += [f"heaplens.{fx}" for fx in expected["fixtures"]]
    return names + ["check", "pool"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--case", default="truth")
    ap.add_argument("--list", action="store_true", help="print the case names")
    ap.add_argument("--fixtures-dir")
    ap.add_argument("--stub-dir")
    ap.add_argument("--heaplens")
    ap.add_argument("--preload")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    with open(args.expected) as f:
        expected = json.load(f)
    if args.list:
        print("\n".join(all_cases(expected)))
        return 0
    if args.case not in all_cases(expected):
        print(f"check_cuda: unknown case {args.case!r}; --list shows them", file=sys.stderr)
        return 2
    if args.case == "truth":
        return report(args.case, case_truth(expected), None)
    if not args.fixtures_dir or not args.stub_dir:
        print(f"check_cuda: --fixtures-dir and --stub-dir are required for case {args.case}", file=sys.stderr)
        return 2
    r = Runner(args, expected)
    kind, _, fx = args.case.partition(".")
    try:
        if kind == "native":
            case_native(r, fx)
        elif kind == "heaplens":
            case_heaplens(r, fx)
        elif kind == "check":
            case_check(r)
        elif kind == "pool":
            case_pool(r)
    except Mismatch as e:
        r.fail(str(e))
    keep = args.keep or bool(r.errors)
    rc = report(args.case, r.errors, r.workdir if keep else None)
    if not keep:
        shutil.rmtree(r.workdir, ignore_errors=True)
    return rc


def report(case, errors, workdir):
    if not errors:
        print(f"cuda {case}: OK")
        return 0
    print(f"cuda {case}: {len(errors)} mismatch(es) with expected.json:")
    for e in errors:
        print(f"  - {e}")
    if workdir:
        print(f"  (outputs kept in {workdir})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
