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

FIELD_SEP = "\x1f"

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
        self.argv = rest
        if not self.argv:
            raise SystemExit(f"harness: workload {self.name} has no command")
        self.expected_stdout = None


class Config:
    def __init__(self, name, preload):
        self.name, self.preload = name, preload
        self.env = {}  # set for this configuration's runs, over the inherited environment

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
    return ap.parse_args()


def base_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def run_once(work, config, tmp_root, env0):
    """One timed run; returns (wall_s, cpu_s)."""
    rundir = tempfile.mkdtemp(prefix="run.", dir=tmp_root)
    env = dict(env0)
    env.update(config.env)
    env.update(work.env)
    if config.preload:
        env["LD_PRELOAD"] = config.preload
    out_path = os.path.join(rundir, ".stdout")
    err_path = os.path.join(rundir, ".stderr")
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    cwd = os.getcwd()
    os.chdir(rundir)  # posix_spawn has no chdir action before Python 3.13 on all libcs
    try:
        exe = work.argv[0] if "/" in work.argv[0] else shutil.which(work.argv[0], path=env.get("PATH"))
        if exe is None:
            raise SystemExit(f"harness: {work.argv[0]}: not found")
        start = time.perf_counter_ns()
        pid = os.posix_spawn(exe, work.argv, env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out_fd, 1),
                                           (os.POSIX_SPAWN_DUP2, err_fd, 2),
                                           (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
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
    shutil.rmtree(rundir, ignore_errors=True)
    code = os.waitstatus_to_exitcode(status)
    settings = " ".join(f"{k}={v}" for k, v in config.env.items())
    what = (f"{work.name} under {config.name} ("
            + (f"LD_PRELOAD={config.preload}" if config.preload else "no preload")
            + (f" {settings}" if settings else "") + ")")
    if code != 0:
        sys.exit(f"harness: {what} exited with {code}\n{stderr[-4000:]}")
    if work.expected_stdout is None:
        work.expected_stdout = stdout
    elif stdout != work.expected_stdout:
        sys.exit(f"harness: {what} printed something else than its first run:\n"
                 f"--- first run\n{work.expected_stdout[-2000:]}\n--- this run\n{stdout[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime


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


# --- report ----------------------------------------------------------------------------------

def main():
    args = parse_args()
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
            label = f"round {rnd - args.warmup + 1}/{args.rounds}" if measured else f"warm-up {rnd + 1}/{args.warmup}"
            k = rnd % len(configs)
            order = configs[k:] + configs[:k]
            for w in workloads:
                for c in order:
                    ws, cs = run_once(w, c, tmp_root, env0)
                    if measured:
                        wall[(w.name, c.name)].append(ws)
                        cpu[(w.name, c.name)].append(cs)
            print(f"[bench] {label} done ({' '.join(c.name for c in order)}), "
                  f"{time.time() - started:.0f} s elapsed", file=sys.stderr, flush=True)
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
        "Run it with `scripts/bench` (7 rounds), `scripts/bench --quick` (3 rounds) or",
        "`scripts/bench --rounds N`; `--only churn,stl` picks workloads, `--intervals",
        "64K,128K,256K,512K` adds the sampling-interval table, `--no-micro` skips the",
        "microbenchmarks and `--out -` leaves this file alone (`scripts/bench --help` has the",
        "rest). The workload sources are in `tests/bench/`.",
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
        f"configuration, {len(configs)} configurations; whole run {elapsed / 60:.1f} min",
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
    lines += ["", "## Workloads", "",
              "Each run starts in a new empty directory; `$INPUTS` is the directory where",
              "`scripts/bench` generated the inputs (e.g. the SQL script).", ""]
    inputs_dir = os.path.dirname(os.path.abspath(args.workloads))
    for w in workloads:
        envs = " ".join(f"{k}={v}" for k, v in w.env.items())
        # Shown relative to the repository, with the run's input directory as $INPUTS.
        cmd = " ".join(w.argv).replace(inputs_dir + "/", "$INPUTS/").replace(os.getcwd() + "/", "")
        lines.append(f"- **{w.name}**: {w.desc} (`{(envs + ' ' if envs else '') + cmd}`)")
    lines += ["", "## Targets", ""] + target_table
    lines += ["", f"**Verdict: {verdict}**"]
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
    # scripts/bench-cli keeps its own section in the same file: carry it over.
    try:
        with open(args.out, encoding="utf-8") as f:
            old = f.read()
        begin, end = old.find("<!-- bench-cli:begin -->"), old.find("<!-- bench-cli:end -->")
        if 0 <= begin < end:
            lines += [old[begin:end + len("<!-- bench-cli:end -->")], ""]
    except OSError:
        pass
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"\n[bench] wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
