#!/usr/bin/python3
"""Measuring half of scripts/bench (which builds, generates inputs and calls this).

Runs every workload under every configuration (native, LD_PRELOAD of plain jemalloc,
LD_PRELOAD of libheaplens.so in its default mode, and optionally heaplens with other
settings: HEAPLENS_MODE=off, HEAPLENS_MODE=full, sampled at other sampling intervals),
interleaved: in round r each workload runs its configurations in an order rotated by r
(A B C, B C A, C A B, ...), so slow drift and noise from other load on the machine hit all
of them alike. Each run starts in a fresh empty directory (its working directory, e.g. for
sqlite's database file), is timed from spawn to reap with a monotonic nanosecond clock, and
its user+sys CPU time comes from wait4's rusage. Each run must exit 0 and print the same
stdout as the workload's first run (the workloads print checksums), so a preload that
changes results is caught, not timed.

Configuration names mean something to the report: native, jemalloc and heaplens are
required; heaplens-off and heaplens-full add their columns and targets; heaplens@R (R a
HEAPLENS_SAMPLE_INTERVAL value such as 64K) adds a row to the sampling-interval table.

Writes a Markdown report (and prints its tables to stdout).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import peers  # noqa: E402

FIELD_SEP = "\x1f"
REDUCED_SEP = "@@reduced@@"
EXEC_HELPER = None  # --exec-helper: tests/bench/bench_exec (set in main)

# Targets (the tracker issue). Ratios are of median wall times; "median" is the median across
# workloads of the per-workload ratio.
T_DEFAULT_NATIVE_MEDIAN = 1.05  # heaplens (default settings) / native
T_DEFAULT_NATIVE_MAX = 1.10     # ... and no workload above this
T_DEFAULT_JEMALLOC_MEDIAN = 1.03  # heaplens (default settings) / plain jemalloc
T_FULL_NATIVE_MEDIAN = 2.00     # heaplens full mode / native
T_RING_RECORDS_PER_S = 50e6     # ring_microbench: one producer, and the consumer's drain


class Workload:
    def __init__(self, line):
        fields = line.rstrip("\n").split(FIELD_SEP)
        self.name, self.desc = fields[0], fields[1]
        rest = fields[2:]
        self.env = {}
        while rest and "=" in rest[0] and not rest[0].startswith("/"):
            key, value = rest.pop(0).split("=", 1)
            self.env[key] = value
        # "@@reduced@@" splits the command from the reduced-input command that the slow peer
        # tools (valgrind) run instead, with a native baseline of their own.
        if REDUCED_SEP in rest:
            i = rest.index(REDUCED_SEP)
            self.argv, self.reduced_argv = rest[:i], rest[i + 1:]
        else:
            self.argv, self.reduced_argv = rest, None
        if not self.argv:
            raise SystemExit(f"harness: workload {self.name} has no command")
        self.expected_stdout = None
        self.expected_reduced_stdout = None

    def argv_for(self, config):
        return self.reduced_argv if config.reduced and self.reduced_argv else self.argv


class Config:
    def __init__(self, name, preload):
        self.name, self.preload = name, preload
        self.env = {}  # set for this configuration's runs, over the inherited environment
        self.kind = None  # a peer tool (peers.KINDS), or None: a preload configuration
        self.reduced = False  # runs the workloads' reduced input (valgrind; and native-reduced)
        self.max_rounds = None  # measured rounds this configuration takes part in (None: all)
        self.unavailable = None  # why this tool cannot run here (then it is skipped, and said so)
        self.skip_warmup = False

    @property
    def baseline(self):
        """The configuration its paired ratios are taken against."""
        return "native-reduced" if self.reduced and self.name != "native-reduced" else "native"

    @property
    def interval(self):
        return self.name.split("@", 1)[1] if self.name.startswith("heaplens@") else None


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", required=True, help="file: one workload a line, fields "
                    "separated by \\x1f: name, description, [KEY=VALUE...], argv...")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=PRELOAD",
                    help="a configuration; PRELOAD empty for native (order = column order)")
    ap.add_argument("--config-env", action="append", default=[], metavar="NAME:KEY=VALUE",
                    help="an environment variable set for one configuration's runs")
    ap.add_argument("--display", action="append", default=[], metavar="NAME=TEXT",
                    help="what the report shows as a configuration's preload")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    ap.add_argument("--out", help="Markdown report to write")
    ap.add_argument("--command", default="scripts/bench", help="command line to record")
    ap.add_argument("--microbench", action="append", default=[], metavar="NAME=JSON",
                    help="Google Benchmark JSON output of pool_microbench or ring_microbench")
    ap.add_argument("--microbench-command", action="append", default=[], metavar="NAME=CMD",
                    help="the command line that produced it, to record")
    ap.add_argument("--smoke", action="store_true",
                    help="the workloads ran at smoke-test sizes: say so, judge nothing")
    ap.add_argument("--note", action="append", default=[], help="extra line for the report")
    ap.add_argument("--tool", action="append", default=[], metavar="NAME=KIND",
                    help="a peer tool configuration (KIND: " + ", ".join(peers.KINDS) + ")")
    ap.add_argument("--heaplens-cli", help="the heaplens command (for KIND heaplens-run)")
    ap.add_argument("--jemalloc", help="libjemalloc.so.2 (for KIND jeprof)")
    ap.add_argument("--valgrind-rounds", type=int, default=None,
                    help="measured rounds of the valgrind tools (default: all)")
    ap.add_argument("--heaptrack-rounds", type=int, default=None,
                    help="measured rounds of heaptrack (default: all, and the warm-up; "
                    "when given: these, no warm-up)")
    ap.add_argument("--require-tools", action="store_true",
                    help="fail if a peer tool is missing instead of leaving its column empty")
    ap.add_argument("--figures-out", help="JSON file: every run's timings and tool figures")
    ap.add_argument("--plot", help="PNG to write: slowdown per workload per tool (gnuplot)")
    ap.add_argument("--exec-helper", help="tests/bench/bench_exec: the launcher that measures each "
                    "run's rusage (peak RSS) without the harness's own image in it")
    ap.add_argument("--plot-ref", help="how the report links the PNG (default: its file name)")
    return ap.parse_args()


def base_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def run_once(work, config, tmp_root, env0, tools_args=None):
    """One timed run; returns {wall, cpu, maxrss_kib, figures}."""
    rundir = tempfile.mkdtemp(prefix="run.", dir=tmp_root)
    outdir = os.path.join(rundir, ".tool-out")
    os.mkdir(outdir)
    env = dict(env0)
    env.update(config.env)
    env.update(work.env)
    if config.preload:
        env["LD_PRELOAD"] = config.preload
    prefix = []
    if config.kind:
        prefix, extra = peers.wrap(config.kind, outdir, **(tools_args or {}))
        env.update(extra)
    argv = prefix + work.argv_for(config)
    ru_path = os.path.join(rundir, ".rusage")
    if EXEC_HELPER:
        # The launcher measures the program's own tree (see tests/bench/bench_exec.c) and sets
        # LD_PRELOAD only for it.
        preload = env.pop("LD_PRELOAD", None)
        argv = [EXEC_HELPER, ru_path] + (["-p", preload] if preload else []) + argv
    out_path = os.path.join(rundir, ".stdout")
    err_path = os.path.join(rundir, ".stderr")
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    cwd = os.getcwd()
    os.chdir(rundir)  # posix_spawn has no chdir action before Python 3.13 on all libcs
    try:
        exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        if exe is None:
            raise SystemExit(f"harness: {argv[0]}: not found")
        start = time.perf_counter_ns()
        pid = os.posix_spawn(exe, argv, env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out_fd, 1),
                                           (os.POSIX_SPAWN_DUP2, err_fd, 2),
                                           (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
        # wait4's rusage covers the child and every descendant it waited for: user+sys is the
        # whole tree's; ru_maxrss is the largest resident set of any one process of the tree.
        _, status, ru = os.wait4(pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e9
    finally:
        os.chdir(cwd)
        os.close(out_fd)
        os.close(err_fd)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    with open(err_path, encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    code = os.waitstatus_to_exitcode(status)
    maxrss, cpu = ru.ru_maxrss, ru.ru_utime + ru.ru_stime
    if EXEC_HELPER and code == 0:
        with open(ru_path) as f:
            fields = f.read().split()
        maxrss, cpu = int(fields[0]), float(fields[1]) + float(fields[2])
    settings = " ".join(f"{k}={v}" for k, v in config.env.items())
    what = (f"{work.name} under {config.name} ("
            + (f"LD_PRELOAD={config.preload}" if config.preload else "no preload")
            + (f" {settings}" if settings else "") + (f" via {' '.join(prefix)}" if prefix else "") + ")")
    if code != 0:
        shutil.rmtree(rundir, ignore_errors=True)
        sys.exit(f"harness: {what} exited with {code}\n{stderr[-4000:]}")
    figures = peers.extract(config.kind, outdir, stdout, stderr) if config.kind else {}
    figures.pop("file", None)  # (the accuracy tables replay heaptrack's file in runs of their own)
    shutil.rmtree(rundir, ignore_errors=True)
    stdout = peers.program_stdout(config.kind, stdout)
    attr = "expected_reduced_stdout" if config.reduced and work.reduced_argv else "expected_stdout"
    if getattr(work, attr) is None:
        setattr(work, attr, stdout)
    elif stdout != getattr(work, attr):
        sys.exit(f"harness: {what} printed something else than its first run:\n"
                 f"--- first run\n{getattr(work, attr)[-2000:]}\n--- this run\n{stdout[-2000:]}")
    return {"wall": wall, "cpu": cpu, "maxrss_kib": maxrss, "figures": figures}


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return model, os.cpu_count(), platform.release(), platform.libc_ver()[1]


def parse_size(text):
    """HEAPLENS size syntax (interposer/config.cc parse_size): 4096, 64K, 512KiB, 1MB, ..."""
    m = re.fullmatch(r"(\d+)(?:([kKmMgG])(?:i?[bB])?)?", text)
    if not m:
        return None
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[(m.group(2) or "").lower()]


def fmt_size(n):
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def heaplens_defaults():
    """The defaults compiled into libheaplens.so, read from interposer/config.h."""
    out = {"HEAPLENS_MODE": "sampled", "HEAPLENS_ON_FULL": "drop"}
    try:
        with open("interposer/config.h") as f:
            text = f.read()
    except OSError:
        return out
    for key, const in (("HEAPLENS_SAMPLE_INTERVAL", "kDefaultSampleInterval"),
                       ("HEAPLENS_RING_SIZE", "kDefaultRingBytes")):
        m = re.search(const + r"\s*=\s*std::size_t\{(\d+)\}\s*<<\s*(\d+)", text)
        if m:
            out[key] = fmt_size(int(m.group(1)) << int(m.group(2))).replace(" ", "")
    return out


def fmt_ratio(r):
    return f"{r:.3f}" if r is not None else "-"


def table(headers, rows, align):
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# --- Google Benchmark output -----------------------------------------------------------------

def load_microbench(path):
    """{run_name: benchmark entry} (median aggregate where there are repetitions)."""
    with open(path) as f:
        data = json.load(f)
    errors = [f"{b['name']}: {b.get('error_message', '?')}"
              for b in data["benchmarks"] if b.get("error_occurred")]
    if errors:
        sys.exit(f"harness: {os.path.basename(path)}: benchmarks failed:\n  " + "\n  ".join(errors))
    have_aggregates = any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
    out = {}
    for b in data["benchmarks"]:
        if have_aggregates and b.get("aggregate_name") != "median":
            continue
        ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        out[b.get("run_name", b["name"])] = dict(b, ns=ns)
    return out, data.get("context", {})


def pool_table(results):
    by_size = {}
    for name, b in results.items():
        fn, arg = name.split("/", 1)
        by_size.setdefault(int(arg), {})[fn] = b["ns"]
    cols = [("BM_pool_alloc_plain_release", "pool::alloc_plain+release"),
            ("BM_pool_alloc_release", "pool::alloc+release"),
            ("BM_mallocx_sdallocx", "mallocx+sdallocx"),
            ("BM_malloc_free", "malloc+free (jemalloc)"),
            ("BM_glibc_malloc_free", "malloc+free (glibc)")]
    rows = []
    for size in sorted(by_size):
        r = by_size[size]
        row = [str(size)] + [f"{r[c]:.1f}" if c in r else "-" for c, _ in cols]
        plain, je = r.get("BM_pool_alloc_plain_release"), r.get("BM_malloc_free")
        row.append(fmt_ratio(plain / je) if plain and je else "-")
        rows.append(row)
    return table(["size (B)"] + [h + " ns" for _, h in cols] + ["alloc_plain / jemalloc malloc"], rows,
                 "l" + "r" * (len(cols) + 1))


def ring_table(results):
    """Rows for ring_microbench; returns (table lines, [(what, value, target, ok)])."""
    rows, verdicts = [], []

    def ring_desc(records):
        return f"{records} records ({fmt_size(records * 16)})"

    for name in sorted(results, key=lambda n: (results[n].get("family_index", 0),
                                               results[n].get("per_family_instance_index", 0))):
        b = results[name]
        parts = name.split("/")
        fn, args = parts[0], [int(p) for p in parts[1:] if p.isdigit()]
        ips = b.get("items_per_second")
        target = ""
        if fn == "BM_ring_produce":
            what = "one producer: try_reserve(1) + put"
            setup = ring_desc(args[0])
            per = f"{b['ns']:.2f} ns/record"
            target = T_RING_RECORDS_PER_S
        elif fn == "BM_ring_drain":
            what = f"consumer drain: Consumer::read, {args[1]} records a call"
            setup = f"{ring_desc(args[0])}, all committed"
            per = f"{b['ns'] / args[0]:.2f} ns/record"
            target = T_RING_RECORDS_PER_S
        elif fn == "BM_ring_produce_consume":
            mode = ("consumer chases the producer (reads whatever is there)" if args[1] <= 1
                    else f"consumer reads once {args[1]} records wait")
            what = f"producer + consumer, 2 threads; {mode}"
            setup = ring_desc(args[0])
            per = f"{b['ns'] / (1 << 20):.2f} ns/record"
        elif fn in ("BM_stack_intern_hit", "BM_stack_intern_hit_many"):
            what = (f"stacks::Interner::intern, {args[0]} frames, already stored"
                    + (" (cycling through 4096 stored stacks)" if fn.endswith("many") else ""))
            setup = "32768 slots, 4096 stacks stored"
            per = f"{b['ns']:.1f} ns/op"
        else:
            what, setup, per = name, "", f"{b['ns']:.1f} ns"
        rate = f"{ips / 1e6:.1f} M/s" if ips else "-"
        if target:
            ok = ips is not None and ips >= target
            short = (f"one producer, {fmt_size(args[0] * 16)} ring" if fn == "BM_ring_produce"
                     else f"drain, {args[1]} records a read")
            verdicts.append((short, ips, target, ok))
            target = f">= {target / 1e6:.0f} M/s: {'PASS' if ok else 'FAIL'}"
        rows.append([what, setup, per, rate, target])
    return table(["benchmark", "setup", "time", "rate", "target"], rows, "llrrl"), verdicts


# --- peers -----------------------------------------------------------------------------------

T_HEAPTRACK_OVER_FULL = 3.0  # heaptrack / heaplens full mode (recording): at least this

PEER_COLUMNS = ["jemalloc", "heaplens-off", "heaplens", "heaplens-full", "heaplens-run", "jeprof",
                "heaptrack", "memcheck", "massif"]


def peer_report(workloads, by_name, runs, smoke):
    """Tables of the side-by-side comparison; returns (markdown lines, verdict rows, plot data)."""

    def base_name(w, c):
        return "native-reduced" if by_name[c].reduced and w.reduced_argv else "native"

    def paired(w, c):
        base = {r["round"]: r for r in runs[(w.name, base_name(w, c))]}
        return [r["wall"] / base[r["round"]]["wall"] for r in runs[(w.name, c)] if r["round"] in base]

    def med_of(w, c, key):
        vals = [r[key] for r in runs.get((w.name, c), [])]
        return statistics.median(vals) if vals else None

    cols = [c for c in PEER_COLUMNS if c in by_name]
    reduced_cols = [c for c in cols if by_name[c].reduced]
    ratio = {}
    for w in workloads:
        for c in cols:
            p = paired(w, c)
            ratio[(w.name, c)] = (statistics.median(p), min(p), max(p), len(p)) if p else None

    def cell(w, c):
        r = ratio[(w.name, c)]
        if by_name[c].unavailable:
            return "not installed"
        if r is None:
            return "-"
        m, lo, hi, n = r
        text = f"{m:.2f}" if m < 10 else f"{m:.1f}"
        if n > 1:
            text += f" ({lo:.2f}-{hi:.2f})" if hi < 10 else f" ({lo:.1f}-{hi:.1f})"
        if c in reduced_cols and w.reduced_argv:
            text += " †"
        return text

    head = ["workload", "native s"] + [f"{c}" for c in cols]
    rows = [[w.name, f"{med_of(w, 'native', 'wall'):.3f}"] + [cell(w, c) for c in cols] for w in workloads]
    lines = ["### Slowdown: wall time / native", "",
             "Median over the rounds of the ratio of each run to the native run of the same round and",
             "workload (pair by pair, adjacent in time), with the smallest and largest paired ratio in",
             "parentheses. † = on the workload's reduced input (see Workloads), against a native run of",
             "that reduced input in the same round. *heaplens-full* is the preload alone in full mode",
             "(records dropped: nobody reads); *heaplens-run* is `heaplens run --mode full`, which",
             "records everything into a trace (no record dropped) — the like-for-like peer of heaptrack.",
             ""]
    lines += table(head, rows, "lr" + "r" * len(cols))

    # Targets per workload.
    verdicts = []
    trows = []
    for w in workloads:
        d = ratio.get((w.name, "heaplens"))
        run_full = ratio.get((w.name, "heaplens-run"))
        pre_full = ratio.get((w.name, "heaplens-full"))
        ht = ratio.get((w.name, "heaptrack"))
        if d is None:
            dv = "-"
        elif smoke:
            dv = "not judged"
        else:
            dv = "met" if d[0] <= 1.05 else ("missed (<= 1.10)" if d[0] <= 1.10 else "MISSED (> 1.10)")
        vs = ht[0] / run_full[0] if ht and run_full else None
        vs_pre = ht[0] / pre_full[0] if ht and pre_full else None
        hv = "-" if vs is None else "not judged" if smoke else ("met" if vs >= T_HEAPTRACK_OVER_FULL else "MISSED")
        trows.append([w.name, f"{d[0]:.3f}" if d else "-", dv,
                      f"{vs:.2f}" if vs else "-", hv, f"{vs_pre:.2f}" if vs_pre else "-"])
        verdicts.append((w.name, d[0] if d else None, dv, vs, hv))
    lines += ["", "### Targets per workload", "",
              "heaplens (default) / native <= 1.05 for every workload (none above 1.10); heaplens full",
              "at least 3x faster than heaptrack, judged on `heaplens run --mode full` (recording, like",
              "heaptrack). The last column is heaptrack against the full-mode preload without a reader.",
              ""]
    lines += table(["workload", "heaplens / native", "<= 1.05", "heaptrack / heaplens-run", ">= 3x",
                    "heaptrack / heaplens-full (no reader)"], trows, "lrlrlr")

    # Peak RSS.
    rss_cols = ["native"] + [c for c in ("jemalloc", "heaplens", "heaplens-full", "heaplens-run", "jeprof",
                                         "heaptrack", "native-reduced", "memcheck", "massif") if c in by_name]
    rss_rows = []
    for w in workloads:
        row = [w.name]
        for c in rss_cols:
            v = med_of(w, c, "maxrss_kib")
            row.append(f"{v / 1024:.1f}" if v else "-")
        rss_rows.append(row)
    lines += ["", "### Peak RSS (MiB)", "",
              "Median over the runs of wait4's `ru_maxrss` for the process the harness starts: the",
              "largest resident set of any single process of its tree (the program and every",
              "descendant that was waited for), not the sum over the tree. For heaptrack that is the",
              "largest of its shell script, the program (with libheaptrack_preload.so) and",
              "heaptrack_interpret; for valgrind the program runs inside valgrind's own process (its",
              "shadow memory included); for `heaplens run` the largest of the heaplens command (the",
              "reader and trace writer) and the program. native-reduced is native on the reduced",
              "input that memcheck and massif run.", ""]
    lines += table(["workload"] + rss_cols, rss_rows, "l" + "r" * len(rss_cols))

    # Trace size per event and the tool's own reported overhead.
    def first_fig(w, c):
        rs = runs.get((w.name, c), [])
        return rs[0]["figures"] if rs else {}

    trows = []
    for w in workloads:
        hl, ht = first_fig(w, "heaplens-run"), first_fig(w, "heaptrack")
        row = [w.name]
        if hl.get("events"):
            row += [f"{hl['trace_bytes'] / 1e6:.2f}", f"{hl['events']:,}",
                    f"{hl['trace_bytes'] / hl['events']:.2f}"]
        else:
            row += ["-", "-", "-"]
        if ht.get("allocations"):
            row += [f"{ht['trace_bytes'] / 1e6:.2f}", f"{ht['allocations']:,}",
                    f"{ht['trace_bytes'] / ht['allocations']:.2f}"]
        else:
            row += ["-", "-", "-"]
        ms, jp = first_fig(w, "massif"), first_fig(w, "jeprof")
        row.append(f"{ms['trace_bytes'] / 1e3:.0f}" if ms.get("trace_bytes") else "-")
        row.append(f"{jp['trace_bytes'] / 1e3:.0f}" if jp.get("trace_bytes") else "-")
        trows.append(row)
    lines += ["", "### Output size per recorded event", "",
              "From the first measured run of each tool. heaplens: the trace file of `heaplens run",
              "--mode full` over its records (one per allocation and one per free, with stacks,",
              "modules and symbols in the same file); heaptrack: its `.zst` file over the allocations",
              "its own stats count (the file also holds every free). massif and jemalloc's profiler",
              "write snapshots, not events: their file sizes are given for scale.", ""]
    lines += table(["workload", "heaplens trace MB", "records", "B / record", "heaptrack file MB",
                    "allocations", "B / allocation", "massif out kB", "jeprof dumps kB"], trows, "lrrrrrrrr")

    orows = []
    for w in workloads:
        hl = [r for r in runs.get((w.name, "heaplens-run"), []) if "reported_overhead_pct" in r["figures"]]
        if not hl:
            continue
        reported = statistics.median(r["figures"]["reported_overhead_pct"] for r in hl)
        cpu_run, cpu_nat = med_of(w, "heaplens-run", "cpu"), med_of(w, "native", "cpu")
        measured = (cpu_run - cpu_nat) / cpu_run * 100 if cpu_run else None
        wall_extra = (ratio[(w.name, "heaplens-run")][0] - 1) * 100 if ratio.get((w.name, "heaplens-run")) else None
        dropped = max(r["figures"].get("dropped", 0) for r in hl)
        orows.append([w.name, f"{reported:.1f} %", f"{measured:.1f} %" if measured is not None else "-",
                      f"{wall_extra:+.0f} %" if wall_extra is not None else "-", str(dropped)])
    if orows:
        lines += ["", "### The tool's own reported overhead beside the measured one", "",
                  "heaplens reports its tracking overhead in the `heaplens run` summary (\"tracking",
                  "overhead N% of CPU\": the session's tracker time over the process's CPU time; the",
                  "tracker time is an estimate: one tracked call in so many is timed with the cycle",
                  "counter, in wall-clock cycles, and scaled up; median over the runs, the largest",
                  "process of the run). *measured* is (CPU of the `heaplens run --mode full` runs - CPU",
                  "of the native runs) / CPU of the heaplens runs, medians, whole process tree (so it",
                  "also counts the reader and trace writer, which the reported figure leaves out). The",
                  "wall-time column is the paired slowdown above. heaptrack, valgrind and jemalloc's",
                  "profiler report no overhead figure of their own.", ""]
        lines += table(["workload", "reported by heaplens", "measured CPU share",
                        "measured wall-time extra", "records dropped"], orows, "lrrrr")

    plot_ratios = {(w, c): v[0] for (w, c), v in ratio.items() if v}
    return lines, verdicts, (cols, plot_ratios)


# --- report ----------------------------------------------------------------------------------

def main():
    global EXEC_HELPER
    args = parse_args()
    EXEC_HELPER = args.exec_helper
    configs = []
    for c in args.config:
        name, _, preload = c.partition("=")
        configs.append(Config(name, preload))
    by_name = {c.name: c for c in configs}
    if len(by_name) != len(configs):
        sys.exit("harness: a configuration is named twice")
    if [c.name for c in configs[:3]] != ["native", "jemalloc", "heaplens"]:
        sys.exit("harness: expected --config native= --config jemalloc=... --config heaplens=... first")
    for e in args.config_env:
        name, _, kv = e.partition(":")
        key, eq, value = kv.partition("=")
        if name not in by_name or not eq:
            sys.exit(f"harness: --config-env {e}: expected NAME:KEY=VALUE for a known configuration")
        by_name[name].env[key] = value
    with open(args.workloads) as f:
        workloads = [Workload(line) for line in f if line.strip()]
    names = [c.name for c in configs]

    # Peer tools: their own configurations, after the preload ones (the tables above them
    # only ever look at the preload configurations).
    tools_args = {"heaplens_cli": args.heaplens_cli, "jemalloc": args.jemalloc}
    tool_configs = []
    for t in args.tool:
        name, _, kind = t.partition("=")
        if kind not in peers.KINDS or name in by_name:
            sys.exit(f"harness: --tool {t}: expected NAME=KIND, a new NAME, KIND one of {', '.join(peers.KINDS)}")
        c = Config(name, "")
        c.kind = kind
        c.unavailable = peers.check_available(kind, **tools_args)
        if c.unavailable:
            if args.require_tools:
                sys.exit(f"harness: --tool {name}: {c.unavailable}")
            print(f"[bench] {name}: {c.unavailable}: its column stays empty", file=sys.stderr)
        if kind in peers.VALGRIND_KINDS:
            c.reduced = True
            c.max_rounds = args.valgrind_rounds
            c.skip_warmup = True
        if kind == "heaptrack" and args.heaptrack_rounds is not None:
            c.max_rounds = args.heaptrack_rounds
            c.skip_warmup = True
        tool_configs.append(c)
        by_name[name] = c
    if any(c.reduced for c in tool_configs) and any(w.reduced_argv for w in workloads):
        c = Config("native-reduced", "")
        c.reduced = True
        c.max_rounds = args.valgrind_rounds
        c.skip_warmup = True
        tool_configs.append(c)
        by_name[c.name] = c
    run_configs = configs + [c for c in tool_configs if not c.unavailable]
    all_names = names + [c.name for c in tool_configs]
    runs = {(w.name, c): [] for w in workloads for c in all_names}  # per measured round: a dict or None
    has_off, has_full = "heaplens-off" in by_name, "heaplens-full" in by_name
    interval_configs = sorted((c for c in configs if c.interval),
                              key=lambda c: parse_size(c.interval) or 0)

    env0 = base_env()
    load_start = os.getloadavg()
    if load_start[0] > (os.cpu_count() or 1):
        print(f"[bench] warning: load average {load_start[0]:.1f} on {os.cpu_count()} CPUs: "
              "expect noisy numbers (interleaving keeps the ratios comparable)",
              file=sys.stderr)
    tmp_root = tempfile.mkdtemp(prefix="heaplens-bench.",
                                dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    wall = {(w.name, c): [] for w in workloads for c in names}
    cpu = {(w.name, c): [] for w in workloads for c in names}
    started = time.time()
    try:
        total = args.warmup + args.rounds
        for rnd in range(total):
            measured = rnd >= args.warmup
            mrnd = rnd - args.warmup
            label = f"round {mrnd + 1}/{args.rounds}" if measured else f"warm-up {rnd + 1}/{args.warmup}"
            k = rnd % len(run_configs)
            order = run_configs[k:] + run_configs[:k]
            for w in workloads:
                for c in order:
                    if c.name == "native-reduced" and not w.reduced_argv:
                        continue  # the valgrind tools run the full input: native is their baseline
                    if c.skip_warmup and not measured:
                        continue  # valgrind (and heaptrack in --quick): no warm-up (too slow to waste)
                    if c.max_rounds is not None and measured and mrnd >= c.max_rounds:
                        continue
                    r = run_once(w, c, tmp_root, env0, tools_args)
                    if measured:
                        r["round"] = mrnd
                        runs[(w.name, c.name)].append(r)
                        if c.name in names:
                            wall[(w.name, c.name)].append(r["wall"])
                            cpu[(w.name, c.name)].append(r["cpu"])
            print(f"[bench] {label} done, {time.time() - started:.0f} s elapsed", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    elapsed = time.time() - started
    load_end = os.getloadavg()

    def med(d, w, c):
        return statistics.median(d[(w.name, c)])

    def ratios(d, a, b):
        return {w.name: med(d, w, a) / med(d, w, b) for w in workloads}

    def med_max(r):
        """(median across workloads, max, workload of the max)."""
        worst = max(r, key=r.get)
        return statistics.median(r.values()), r[worst], worst

    # Wall-time ratios.
    dn, dj, jn = ratios(wall, "heaplens", "native"), ratios(wall, "heaplens", "jemalloc"), ratios(wall, "jemalloc", "native")
    paired = {w.name: statistics.median(a / b for a, b in zip(wall[(w.name, "heaplens")],
                                                               wall[(w.name, "jemalloc")]))
              for w in workloads}
    fn = ratios(wall, "heaplens-full", "native") if has_full else None
    oj = ratios(wall, "heaplens-off", "jemalloc") if has_off else None

    # Seconds.
    sec_cols = [c for c in ("native", "jemalloc", "heaplens", "heaplens-off", "heaplens-full") if c in by_name]
    sec_rows = []
    for w in workloads:
        spread = max(wall[(w.name, "heaplens")]) / min(wall[(w.name, "heaplens")]) - 1
        sec_rows.append([w.name] + [f"{med(wall, w, c):.3f}" for c in sec_cols] + [f"{spread * 100:.0f} %"])
    sec_table = table(["workload"] + [f"{c} s" for c in sec_cols] + ["heaplens spread"],
                      sec_rows, "l" + "r" * (len(sec_cols) + 1))

    ratio_cols = [("jemalloc / native", jn), ("**heaplens / native**", dn),
                  ("**heaplens / jemalloc**", dj), ("paired h/j", paired)]
    if has_full:
        ratio_cols.append(("**full / native**", fn))
    if has_off:
        ratio_cols.append(("off / jemalloc", oj))
    ratio_rows = [[w.name] + [fmt_ratio(r[w.name]) for _, r in ratio_cols] for w in workloads]
    ratio_rows.append(["**median across workloads**"] + [f"**{fmt_ratio(med_max(r)[0])}**" for _, r in ratio_cols])
    ratio_rows.append(["**max**"] + [f"{fmt_ratio(med_max(r)[1])} ({med_max(r)[2]})" for _, r in ratio_cols])
    ratio_table = table(["workload"] + [h for h, _ in ratio_cols], ratio_rows, "l" + "r" * len(ratio_cols))

    # Targets: (what, measured text, limit text, met); the ring's are added below.
    targets = []
    m, mx, worst = med_max(dn)
    targets.append(("heaplens (default) / native, median across workloads", m, T_DEFAULT_NATIVE_MEDIAN))
    targets.append((f"heaplens (default) / native, max over workloads ({worst})", mx, T_DEFAULT_NATIVE_MAX))
    targets.append(("heaplens (default) / jemalloc, median across workloads", med_max(dj)[0],
                    T_DEFAULT_JEMALLOC_MEDIAN))
    if has_full:
        targets.append(("heaplens full mode / native, median across workloads", med_max(fn)[0],
                        T_FULL_NATIVE_MEDIAN))
    targets = [(what, f"{value:.3f}", f"<= {limit:.2f}", value <= limit) for what, value, limit in targets]

    # CPU time.
    cdn, cdj = ratios(cpu, "heaplens", "native"), ratios(cpu, "heaplens", "jemalloc")
    cfn = ratios(cpu, "heaplens-full", "native") if has_full else None
    cpu_ratio_cols = [("heaplens / native", cdn), ("heaplens / jemalloc", cdj)]
    if has_full:
        cpu_ratio_cols.append(("full / native", cfn))
    cpu_rows = [[w.name] + [f"{med(cpu, w, c):.3f}" for c in sec_cols]
                + [fmt_ratio(r[w.name]) for _, r in cpu_ratio_cols] for w in workloads]
    cpu_rows.append(["**median across workloads**"] + [""] * len(sec_cols)
                    + [fmt_ratio(med_max(r)[0]) for _, r in cpu_ratio_cols])
    cpu_table = table(["workload"] + [f"{c} cpu s" for c in sec_cols] + [h for h, _ in cpu_ratio_cols],
                      cpu_rows, "l" + "r" * (len(sec_cols) + len(cpu_ratio_cols)))

    # Sampling interval vs overhead.
    defaults = heaplens_defaults()
    interval_tables = None
    if interval_configs:
        rows, per_rows = [], []
        default_interval = env0.get("HEAPLENS_SAMPLE_INTERVAL", defaults.get("HEAPLENS_SAMPLE_INTERVAL", "?"))
        entries = [(c.name, f"R = {c.interval}", parse_size(c.interval) or 0) for c in interval_configs]
        entries.append(("heaplens", f"heaplens column ({default_interval}, the default)"
                        if "HEAPLENS_SAMPLE_INTERVAL" not in env0 else f"heaplens column ({default_interval})",
                        parse_size(default_interval) or 0))
        entries.sort(key=lambda e: (e[2], e[0] != "heaplens"))
        for cname, label, _ in entries:
            rn, rj = ratios(wall, cname, "native"), ratios(wall, cname, "jemalloc")
            m_n, x_n, w_n = med_max(rn)
            m_j = med_max(rj)[0]
            ok = (m_n <= T_DEFAULT_NATIVE_MEDIAN and x_n <= T_DEFAULT_NATIVE_MAX
                  and m_j <= T_DEFAULT_JEMALLOC_MEDIAN)
            rows.append([label, fmt_ratio(m_n), f"{fmt_ratio(x_n)} ({w_n})", fmt_ratio(m_j),
                         fmt_ratio(med_max(ratios(cpu, cname, "jemalloc"))[0]),
                         "not judged" if args.smoke else "yes" if ok else "no"])
            per_rows.append([label] + [fmt_ratio(rj[w.name]) for w in workloads])
        interval_tables = (
            table(["sampling interval", "/ native median", "/ native max", "/ jemalloc median",
                   "/ jemalloc median (CPU)", "meets the default-mode targets"], rows, "lrrrrl"),
            table(["sampling interval"] + [f"{w.name}" for w in workloads], per_rows,
                  "l" + "r" * len(workloads)))

    # Microbenchmarks.
    micro = {}
    for m_arg in args.microbench:
        mname, _, path = m_arg.partition("=")
        if path and os.path.exists(path):
            micro[mname] = load_microbench(path)[0]
    micro_cmd = dict(c.partition("=")[::2] for c in args.microbench_command)
    pool_lines = pool_table(micro["pool_microbench"]) if micro.get("pool_microbench") else None
    ring_lines, ring_verdicts = (ring_table(micro["ring_microbench"]) if micro.get("ring_microbench")
                                 else (None, []))

    for what, ips, limit, ok in ring_verdicts:
        targets.append((f"ring_microbench: {what}", f"{ips / 1e6:.1f} M/s" if ips else "-",
                        f">= {limit / 1e6:.0f} M/s", ok))
    target_rows = [[what, value, limit, "not judged" if args.smoke else "PASS" if ok else "FAIL"]
                   for what, value, limit, ok in targets]
    target_table = table(["target", "measured", "limit", "result"], target_rows, "lrrl")
    failed = [t for t in targets if not t[3]]
    if args.smoke:
        verdict = ("not judged: a smoke run (--smoke: one round at reduced workload sizes, "
                   "microbenchmarks for an instant)")
    else:
        verdict = (("PASS" if not failed else "FAIL") +
                   f": {len(targets) - len(failed)} of {len(targets)} targets met"
                   + (f" (missed: {'; '.join(t[0] for t in failed)})" if failed else "")
                   + f"; heaplens (default) costs {(med_max(dj)[0] - 1) * 100:+.1f} % over plain "
                   f"jemalloc and {(med_max(dn)[0] - 1) * 100:+.1f} % over native (medians).")

    print()
    print("median wall seconds:")
    print("\n".join(sec_table))
    print()
    print("wall-time ratios:")
    print("\n".join(ratio_table))
    print()
    print("\n".join(target_table))
    print()
    print("user+sys CPU time:")
    print("\n".join(cpu_table))
    if interval_tables:
        print()
        print("sampling interval vs overhead (wall time):")
        print("\n".join(interval_tables[0]))
        print()
        print("per workload, / jemalloc:")
        print("\n".join(interval_tables[1]))
    if pool_lines:
        print()
        print("pool_microbench (ns per allocation + release pair, median of repetitions):")
        print("\n".join(pool_lines))
    if ring_lines:
        print()
        print("ring_microbench (median of repetitions):")
        print("\n".join(ring_lines))
    print()
    print(verdict)

    peer_lines, peer_verdicts, (plot_cols, plot_ratios) = peer_report(workloads, by_name, runs, args.smoke)
    if args.smoke:
        # The smoke test: every tool ran and produced what the tables read (timings are not judged).
        need = {"heaplens-run": ("events", "trace_bytes"), "heaptrack": ("allocations", "trace_bytes"),
                "memcheck": ("allocations", "leak"), "massif": ("peak", "trace_bytes"),
                "jeprof": ("leak", "trace_bytes")}
        missing = []
        for c in tool_configs:
            if c.kind is None or c.unavailable:
                continue
            for w in workloads:
                rs = runs[(w.name, c.name)]
                if not rs:
                    missing.append(f"{w.name} under {c.name}: no run")
                    continue
                lacking = [k for k in need[c.kind] if not rs[0]["figures"].get(k) and rs[0]["figures"].get(k) != (0, 0)]
                if lacking:
                    missing.append(f"{w.name} under {c.name}: no {', '.join(lacking)} in its output")
        if missing:
            sys.exit("harness: --smoke: a tool produced no usable output:\n  " + "\n  ".join(missing))
    print()
    print("\n".join(peer_lines))
    if args.figures_out:
        with open(args.figures_out, "w") as f:
            json.dump({"workloads": {w.name: {"argv": w.argv, "reduced_argv": w.reduced_argv, "env": w.env}
                                     for w in workloads},
                       "runs": {f"{wn}\t{c}": rs for (wn, c), rs in runs.items()}}, f, indent=1)
    plot_note = None
    if args.plot:
        plot_note = peers.plot(args.plot, [w.name for w in workloads], plot_cols, plot_ratios,
                               "heaplens and its peers: slowdown per workload (" +
                               ("smoke run, meaningless" if args.smoke else f"{args.rounds} rounds")
                               + "; memcheck and massif on reduced inputs where the table marks them)")
        print(f"[bench] plot: {plot_note or args.plot}", file=sys.stderr)
    missed = [v for v in peer_verdicts if v[2].startswith(("missed", "MISSED")) or v[4] == "MISSED"]

    if not args.out:
        return
    model, ncpu, kernel, glibc = machine_info()
    shown = {c.name: c.preload for c in configs}
    shown.update(d.split("=", 1) for d in args.display)
    user_env = {k: v for k, v in env0.items() if k.startswith("HEAPLENS_") and k != "HEAPLENS_BUILD_DIR"}
    user_env_text = " ".join(f"`{k}={v}`" for k, v in sorted(user_env.items()))

    def config_row(c):
        if c.name == "native":
            return [c.name, "(none)", "glibc malloc"]
        if c.name == "jemalloc":
            return [c.name, f"`{shown[c.name]}`", "Debian's plain jemalloc"]
        settings = dict(user_env)
        settings.update(c.env)
        text = " ".join(f"`{k}={v}`" for k, v in settings.items()) or "defaults"
        if c.name == "heaplens":
            text += " (the default mode: what a user gets)"
        elif c.name == "heaplens-off":
            text += " (no recording: the interposer, the pool and its exact counters only)"
        elif c.name == "heaplens-full":
            text += " (every allocation and free; no reader is attached, see below)"
        return [c.name, f"`{shown[c.name]}`", text]

    config_table = table(["configuration", "LD_PRELOAD", "heaplens settings"],
                         [config_row(c) for c in configs], "lll")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench`; do not edit by hand (rerun it instead).",
        "",
        "What it measures: the wall-clock cost of running allocation-heavy programs under",
        "`LD_PRELOAD=libheaplens.so` (in its default sampled mode, with recording off, and in",
        "full mode) compared with the same programs natively (glibc malloc) and under Debian's",
        "plain `libjemalloc.so.2` (the allocator heaplens's pool is built on). All",
        "configurations run interleaved in one session: every round runs each workload once",
        "per configuration, in an order rotated every round, so drift and noise on a shared",
        "machine hit all of them alike. Numbers are medians over the rounds; ratios are ratios",
        "of those medians. Every run must exit 0 and print the same checksum output as the",
        "first run of its workload.",
        "",
        f"Targets: heaplens in its default settings at most {T_DEFAULT_NATIVE_MEDIAN:.2f} x native",
        f"(median across workloads) with no workload above {T_DEFAULT_NATIVE_MAX:.2f} x, and at most",
        f"{T_DEFAULT_JEMALLOC_MEDIAN:.2f} x plain jemalloc (median); full mode at most "
        f"{T_FULL_NATIVE_MEDIAN:.0f} x native (median);",
        f"the ring (ring_microbench): one producer, and the consumer's drain, at least "
        f"{T_RING_RECORDS_PER_S / 1e6:.0f} M",
        "records/s each.",
        "",
        "Side by side with the peers (heaptrack, valgrind memcheck and massif, jemalloc's sampled",
        "profiler, and `heaplens run --mode full` recording a trace) in the same interleaved run:",
        "slowdown per workload per tool as the median of paired ratios (each run against the",
        "native run of the same round), peak RSS, output bytes per recorded event, and heaplens's",
        "own reported overhead beside the measured one; then the accuracy tables (leaks and peaks",
        "on the ground-truth fixtures against the truth, and on the real programs side by side).",
        "",
        "Run it with `scripts/bench` (7 rounds), `scripts/bench --quick` (3 rounds, smaller inputs,",
        "valgrind in 1 round and heaptrack in 2; under 10 minutes on 2 cores) or",
        "`scripts/bench -n N`; `--only churn,stl` picks workloads, `--no-peers` leaves the peer",
        "tools out, `--no-accuracy` the accuracy tables, `--intervals 64K,128K,256K,512K` adds the",
        "sampling-interval table, `--no-micro` skips the microbenchmarks and `--out -` leaves this",
        "file alone (`scripts/bench --help` has the rest). The workload sources and the input",
        "generator are in `tests/bench/`; every input is generated, nothing is downloaded.",
        "",
    ]
    if args.smoke:
        lines += ["**A smoke run (`--smoke`): one round at reduced workload sizes. It checks that",
                  "the benchmark works; its numbers mean nothing.**", ""]
    lines += [
        f"- Date (end of run): {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {ncpu} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), {model}; "
        f"Linux {kernel}; glibc {glibc}",
        f"- Load average (1 min) at start / end: {load_start[0]:.2f} / {load_end[0]:.2f}",
        f"- Command: `{args.command}`",
        f"- Rounds: {args.rounds} measured (+{args.warmup} warm-up) per workload and "
        f"configuration, {len(configs)} preload configurations + {len(run_configs) - len(configs)} peer "
        f"tool configurations (valgrind and, with --quick, heaptrack in fewer rounds: see below); "
        f"timing part {elapsed / 60:.1f} min (the accuracy part says its own below)",
        "- heaplens defaults (interposer/config.h, docs/configuration.md): "
        + ", ".join(f"`{k}={v}`" for k, v in defaults.items()),
        "- HEAPLENS_* settings in the environment of the run (they apply to every heaplens "
        "configuration, under the configuration's own): " + (user_env_text or "none"),
    ]
    lines += [f"- {n}" for n in args.note]
    lines += ["", "## Configurations", ""] + config_table
    if has_full:
        lines += ["",
                  "Full mode runs without a reader, as every benchmark run does: the ring (65536",
                  "records with the default `HEAPLENS_RING_SIZE`) fills within the first",
                  "allocations, and from then on every record is dropped with `HEAPLENS_ON_FULL=drop`",
                  "(the default, set explicitly here): a failed reservation plus one atomic add to",
                  "`records_dropped` instead of the reservation and the two stores of a record.",
                  "Everything else full mode does per allocation (the hook, the stack unwinding and",
                  "interning, the encoding) is paid in full, so the column is the cost of full mode",
                  "minus the ring writes and the reader's share of the machine. `HEAPLENS_ON_FULL=wait`",
                  "needs a reader; without one it would stall 5 s and then drop all the same."]
    if tool_configs:
        versions = peers.tool_versions()
        trows = []
        for c in tool_configs:
            if c.name == "native-reduced":
                trows.append([c.name, "no tool, the reduced input: the baseline of the † ratios"])
                continue
            desc = peers.TOOL_DESC[c.kind].format(version=versions.get(c.kind, "?"))
            if c.max_rounds is not None:
                desc += f"; {min(c.max_rounds, args.rounds)} measured round(s), no warm-up"
            elif c.skip_warmup:
                desc += "; no warm-up"
            if c.unavailable:
                desc += f" — **not run: {c.unavailable}**"
            trows.append([c.name, desc])
        lines += ["", "Peer tools (OUT is a fresh directory per run; the program's stdout must match",
                  "the native run's, the tool's own lines removed):", ""]
        lines += table(["tool", "how it runs"], trows, "ll")
    lines += ["", "## Workloads", "",
              "Each run starts in a new empty directory; `$INPUTS` is the directory where",
              "`scripts/bench` generated the inputs (e.g. the SQL script).", ""]
    inputs_dir = os.path.dirname(os.path.abspath(args.workloads))
    for w in workloads:
        envs = " ".join(f"{k}={v}" for k, v in w.env.items())
        # Shown relative to the repository, with the run's input directory as $INPUTS.
        cmd = " ".join(w.argv).replace(inputs_dir + "/", "$INPUTS/").replace(os.getcwd() + "/", "")
        red = ""
        if w.reduced_argv:
            rcmd = " ".join(w.reduced_argv).replace(inputs_dir + "/", "$INPUTS/").replace(os.getcwd() + "/", "")
            red = f"; reduced input for valgrind: `{rcmd}`"
        lines.append(f"- **{w.name}**: {w.desc} (`{(envs + ' ' if envs else '') + cmd}`{red})")
    lines += ["", "## Targets", ""] + target_table
    lines += ["", f"**Verdict: {verdict}**"]
    lines += ["", "## Side by side with heaptrack, valgrind and jemalloc's profiler", "",
              f"Command: `{args.command}`.", ""]
    if args.plot and not plot_note:
        lines += [f"![slowdown per workload per tool]({args.plot_ref or os.path.basename(args.plot)})", ""]
    elif args.plot:
        lines += [f"(No plot: {plot_note}.)", ""]
    if missed and not args.smoke:
        lines += ["Missed targets: " + "; ".join(
            f"{v[0]} ({'heaplens/native ' + format(v[1], '.3f') if v[2].startswith(('missed', 'MISSED')) else ''}"
            f"{', ' if v[2].startswith(('missed', 'MISSED')) and v[4] == 'MISSED' else ''}"
            f"{'heaptrack/heaplens-run ' + format(v[3], '.2f') if v[4] == 'MISSED' else ''})" for v in missed)
            + " — see *Notes on the results* below for why.", ""]
    lines += peer_lines
    lines += ["", "## Wall time", "",
              "Median seconds per run; *heaplens spread* is max/min - 1 of the heaplens (default)",
              "runs, a hint of the noise.", ""]
    lines += sec_table
    lines += ["", "Ratios of those medians. *heaplens* is the default mode; *paired h/j* is the median",
              "over rounds of the ratio of the heaplens and jemalloc runs of the same round",
              "(adjacent in time). *off / jemalloc* is what the interposer and the pool cost",
              "without any recording.", ""]
    lines += ratio_table
    lines += ["", "## CPU time (user + sys)", ""]
    lines += cpu_table
    if interval_tables:
        lines += ["", "## Sampling interval vs overhead", "",
                  "heaplens in sampled mode at each `HEAPLENS_SAMPLE_INTERVAL` (R) of `--intervals`,",
                  "in the same interleaved run (one configuration per interval). Smaller R: more",
                  "samples, better estimates, more cost. The default should be the smallest R that",
                  "meets the default-mode targets (median / native, max / native, median / jemalloc).",
                  ""]
        lines += interval_tables[0]
        lines += ["", "Per workload, wall time / jemalloc:", ""]
        lines += interval_tables[1]
    if pool_lines or ring_lines:
        lines += ["", "## Microbenchmarks", ""]
    if pool_lines:
        lines += ["### pool_microbench", "",
                  "Google Benchmark, single-threaded: one allocation and its release per",
                  "iteration, nanoseconds (median of repetitions). The binary links",
                  "libjemalloc.so.2, so its `malloc`/`free` are jemalloc's; glibc's are",
                  "reached as `__libc_malloc`/`__libc_free`. 262144 B is the pool's default",
                  "large threshold (dedicated arena, no thread cache).", ""]
        if micro_cmd.get("pool_microbench"):
            lines += [f"Command: `{micro_cmd['pool_microbench']}`", ""]
        lines += pool_lines + [""]
    if ring_lines:
        lines += ["### ring_microbench", "",
                  "Google Benchmark: the session ring (`shared/ring.h`) and the stack table",
                  "(`shared/stack_table.h`) on their own, in ordinary memory (median of",
                  "repetitions; rate = records, or interning calls, per second). The single",
                  "producer pays the CAS on `ring_head` and the two stores of every record; its",
                  "consumer side releases half the ring at a time with a plain store. The",
                  "two-thread rows measure a producer and a consumer on different cores, where",
                  "the ring's shared cache lines move between them: with 2 CPUs they also compete",
                  "with the rest of the machine.", ""]
        if micro_cmd.get("ring_microbench"):
            lines += [f"Command: `{micro_cmd['ring_microbench']}`", ""]
        lines += ring_lines + [""]
    if lines[-1] != "":
        lines.append("")
    # Other tools (scripts/bench-cli, the viewer's benchmark, the accuracy tables, the notes)
    # keep their own sections in the same file between <!-- NAME:begin --> and
    # <!-- NAME:end -->: carry every one over, verbatim, in their order.
    try:
        with open(args.out, encoding="utf-8") as f:
            old = f.read()
        for m in re.finditer(r"<!-- ([\w.-]+):begin -->.*?<!-- \1:end -->", old, re.S):
            lines += [m.group(0), ""]
    except OSError:
        pass
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"\n[bench] wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
