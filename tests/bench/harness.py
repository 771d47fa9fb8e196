#!/usr/bin/python3
"""Measuring half of scripts/bench (which builds, generates inputs and calls this).

Runs every workload under every configuration (native, LD_PRELOAD of plain jemalloc,
LD_PRELOAD of libheaplens.so), interleaved: in round r each workload runs its configurations
in an order rotated by r (A B C, B C A, C A B, ...), so slow drift and noise from other
load on the machine hit all three alike. Each run starts in a fresh empty directory (its
working directory, e.g. for sqlite's database file), is timed from spawn to reap with a
monotonic nanosecond clock, and its user+sys CPU time comes from wait4's rusage. Each run
must exit 0 and print the same stdout as the workload's first run (the workloads print
checksums), so a preload that changes results is caught, not timed.

Writes a Markdown report (and prints its tables to stdout).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FIELD_SEP = "\x1f"
TARGET = 1.02  # heaplens may cost at most 2 % over plain jemalloc (median across workloads)


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


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workloads", required=True, help="file: one workload a line, fields "
                    "separated by \\x1f: name, description, [KEY=VALUE...], argv...")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=PRELOAD",
                    help="a configuration; PRELOAD empty for native (order = column order)")
    ap.add_argument("--display", action="append", default=[], metavar="NAME=TEXT",
                    help="what the report shows as a configuration's preload")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    ap.add_argument("--out", help="Markdown report to write")
    ap.add_argument("--command", default="scripts/bench", help="command line to record")
    ap.add_argument("--microbench-json", help="Google Benchmark JSON output to append")
    ap.add_argument("--microbench-command", default="", help="its command line, to record")
    ap.add_argument("--note", action="append", default=[], help="extra line for the report")
    return ap.parse_args()


def base_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def run_once(work, preload, tmp_root, env0):
    """One timed run; returns (wall_s, cpu_s)."""
    rundir = tempfile.mkdtemp(prefix="run.", dir=tmp_root)
    env = dict(env0)
    env.update(work.env)
    if preload:
        env["LD_PRELOAD"] = preload
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
    what = f"{work.name} ({'LD_PRELOAD=' + preload if preload else 'native'})"
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


def fmt_ratio(r):
    return f"{r:.3f}"


def table(headers, rows, align):
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def microbench_tables(path):
    with open(path) as f:
        data = json.load(f)
    # name like BM_pool_alloc_release/64 (with repetitions: .../64_median)
    results = {}
    have_aggregates = any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
    for b in data["benchmarks"]:
        if have_aggregates and b.get("aggregate_name") != "median":
            continue
        base = b.get("run_name", b["name"])
        fn, arg = base.split("/", 1)
        ns = b["real_time"]
        unit = b.get("time_unit", "ns")
        ns *= {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
        results.setdefault(int(arg), {})[fn] = ns
    cols = [("BM_pool_alloc_plain_release", "pool::alloc_plain+release"),
            ("BM_pool_alloc_release", "pool::alloc+release"),
            ("BM_mallocx_sdallocx", "mallocx+sdallocx"),
            ("BM_malloc_free", "malloc+free (jemalloc)"),
            ("BM_glibc_malloc_free", "malloc+free (glibc)")]
    rows = []
    for size in sorted(results):
        r = results[size]
        row = [str(size)] + [f"{r[c]:.1f}" if c in r else "-" for c, _ in cols]
        plain, je = r.get("BM_pool_alloc_plain_release"), r.get("BM_malloc_free")
        row.append(fmt_ratio(plain / je) if plain and je else "-")
        rows.append(row)
    return table(["size (B)"] + [h + " ns" for _, h in cols] + ["alloc_plain / jemalloc malloc"], rows,
                 "l" + "r" * (len(cols) + 1)), data.get("context", {})


def main():
    args = parse_args()
    configs = []
    for c in args.config:
        name, _, preload = c.partition("=")
        configs.append((name, preload))
    if [n for n, _ in configs] != ["native", "jemalloc", "heaplens"]:
        sys.exit("harness: expected --config native= --config jemalloc=... --config heaplens=...")
    with open(args.workloads) as f:
        workloads = [Workload(line) for line in f if line.strip()]

    env0 = base_env()
    load_start = os.getloadavg()
    if load_start[0] > (os.cpu_count() or 1):
        print(f"[bench] warning: load average {load_start[0]:.1f} on {os.cpu_count()} CPUs: "
              "expect noisy numbers (interleaving keeps the ratios comparable)",
              file=sys.stderr)
    tmp_root = tempfile.mkdtemp(prefix="heaplens-bench.",
                                dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    wall = {(w.name, c): [] for w in workloads for c, _ in configs}
    cpu = {(w.name, c): [] for w in workloads for c, _ in configs}
    started = time.time()
    try:
        total = args.warmup + args.rounds
        for rnd in range(total):
            measured = rnd >= args.warmup
            label = f"round {rnd - args.warmup + 1}/{args.rounds}" if measured else f"warm-up {rnd + 1}/{args.warmup}"
            k = rnd % len(configs)
            order = configs[k:] + configs[:k]
            for w in workloads:
                for cname, preload in order:
                    ws, cs = run_once(w, preload, tmp_root, env0)
                    if measured:
                        wall[(w.name, cname)].append(ws)
                        cpu[(w.name, cname)].append(cs)
            print(f"[bench] {label} done ({' '.join(n for n, _ in order)}), "
                  f"{time.time() - started:.0f} s elapsed", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    elapsed = time.time() - started
    load_end = os.getloadavg()

    med = lambda d, w, c: statistics.median(d[(w.name, c)])
    rows, cpu_rows = [], []
    r_hn, r_jn, r_hj, r_hj_cpu, r_hj_paired = [], [], [], [], []
    for w in workloads:
        n, j, h = (med(wall, w, c) for c in ("native", "jemalloc", "heaplens"))
        hn, jn, hj = h / n, j / n, h / j
        # Paired: ratio of the heaplens and jemalloc runs of the same round (adjacent in time).
        paired = statistics.median(a / b for a, b in zip(wall[(w.name, "heaplens")],
                                                          wall[(w.name, "jemalloc")]))
        spread = max(wall[(w.name, "heaplens")]) / min(wall[(w.name, "heaplens")]) - 1
        r_hn.append(hn); r_jn.append(jn); r_hj.append(hj); r_hj_paired.append(paired)
        rows.append([w.name, f"{n:.3f}", f"{j:.3f}", f"{h:.3f}", fmt_ratio(jn), fmt_ratio(hn),
                     f"**{fmt_ratio(hj)}**", fmt_ratio(paired), f"{spread * 100:.0f} %"])
        cn, cj, ch = (med(cpu, w, c) for c in ("native", "jemalloc", "heaplens"))
        r_hj_cpu.append(ch / cj)
        cpu_rows.append([w.name, f"{cn:.3f}", f"{cj:.3f}", f"{ch:.3f}", fmt_ratio(ch / cn),
                         fmt_ratio(ch / cj)])
    m_hj = statistics.median(r_hj)
    rows.append(["**median across workloads**", "", "", "", fmt_ratio(statistics.median(r_jn)),
                 fmt_ratio(statistics.median(r_hn)), f"**{fmt_ratio(m_hj)}**",
                 fmt_ratio(statistics.median(r_hj_paired)), ""])
    cpu_rows.append(["**median across workloads**", "", "", "", "",
                     fmt_ratio(statistics.median(r_hj_cpu))])
    m_cpu = statistics.median(r_hj_cpu)
    m_paired = statistics.median(r_hj_paired)
    verdict = ("PASS" if m_hj <= TARGET else "FAIL") + (
        f": libheaplens.so costs {(m_hj - 1) * 100:+.1f} % over plain libjemalloc.so.2 "
        f"(median across workloads of the heaplens/jemalloc wall-time ratio: {m_hj:.3f}; "
        f"target <= {TARGET:.2f}; paired {m_paired:.3f}, CPU time {m_cpu:.3f}).")

    wall_table = table(["workload", "native s", "jemalloc s", "heaplens s", "jemalloc/native",
                        "heaplens/native", "heaplens/jemalloc", "paired h/j", "heaplens spread"],
                       rows, "lrrrrrrrr")
    cpu_table = table(["workload", "native cpu s", "jemalloc cpu s", "heaplens cpu s",
                       "heaplens/native", "heaplens/jemalloc"], cpu_rows, "lrrrrr")

    print()
    print("\n".join(wall_table))
    print()
    print("user+sys CPU time:")
    print("\n".join(cpu_table))
    print()
    print(verdict)

    micro = None
    if args.microbench_json and os.path.exists(args.microbench_json):
        micro, ctx = microbench_tables(args.microbench_json)
        print()
        print("pool_microbench (ns per allocation + release pair, median of repetitions):")
        print("\n".join(micro))

    if not args.out:
        return
    model, ncpu, kernel, glibc = machine_info()
    preloads = dict(configs)
    preloads.update(d.split("=", 1) for d in args.display)
    heaplens_env = sorted(f"{k}={v}" for k, v in env0.items() if k.startswith("HEAPLENS_"))
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench`; do not edit by hand (rerun it instead).",
        "",
        "What it measures: the wall-clock cost of running allocation-heavy programs under",
        "`LD_PRELOAD=libheaplens.so` compared with the same programs under Debian's plain",
        "`libjemalloc.so.2` (the allocator heaplens's pool is built on) and natively (glibc",
        "malloc). The three configurations run interleaved in one session: every round runs",
        "each workload once per configuration, in an order rotated every round, so drift and",
        "noise on a shared machine hit all three alike. Numbers are medians over the rounds;",
        "ratios are ratios of those medians. Every run must exit 0 and print the same checksum",
        "output as the first run of its workload.",
        "",
        f"Target: heaplens/jemalloc at most {TARGET:.2f} (2 %), median across workloads.",
        "",
        "Run it with `scripts/bench` (7 rounds, about 6-7 minutes on 2 cores), `scripts/bench",
        "--quick` (3 rounds) or `scripts/bench --rounds N`; `--only churn,stl` picks workloads",
        "and `--out -` leaves this file alone. The workload sources are in `tests/bench/`.",
        "",
        f"- Date (end of run): {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {ncpu} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), {model}; "
        f"Linux {kernel}; glibc {glibc}",
        f"- Load average (1 min) at start / end: {load_start[0]:.2f} / {load_end[0]:.2f}",
        f"- Command: `{args.command}`",
        f"- Rounds: {args.rounds} measured (+{args.warmup} warm-up) per workload and "
        f"configuration; whole run {elapsed / 60:.1f} min",
        f"- jemalloc: `LD_PRELOAD={preloads['jemalloc']}`",
        f"- heaplens: `LD_PRELOAD={preloads['heaplens']}`"
        + (f" with {' '.join(heaplens_env)}" if heaplens_env else " (default settings)"),
    ]
    lines += [f"- {n}" for n in args.note]
    lines += ["", "## Workloads", "",
              "Each run starts in a new empty directory; `$INPUTS` is the directory where",
              "`scripts/bench` generated the inputs (e.g. the SQL script).", ""]
    inputs_dir = os.path.dirname(os.path.abspath(args.workloads))
    for w in workloads:
        envs = " ".join(f"{k}={v}" for k, v in w.env.items())
        # Shown relative to the repository, with the run's input directory as $INPUTS.
        cmd = " ".join(w.argv).replace(inputs_dir + "/", "$INPUTS/").replace(os.getcwd() + "/", "")
        lines.append(f"- **{w.name}**: {w.desc} (`{(envs + ' ' if envs else '') + cmd}`)")
    lines += ["", "## Wall time", "",
              "Median seconds per run. *paired h/j* is the median over rounds of the ratio of",
              "the heaplens and jemalloc runs of the same round (adjacent in time); *heaplens",
              "spread* is max/min - 1 of the heaplens runs, a hint of the noise.", ""]
    lines += wall_table
    lines += ["", f"**Verdict: {verdict}**", "", "## CPU time (user + sys)", ""]
    lines += cpu_table
    if micro:
        lines += ["", "## pool_microbench", "",
                  "Google Benchmark, single-threaded: one allocation and its release per",
                  "iteration, nanoseconds (median of repetitions). The binary links",
                  "libjemalloc.so.2, so its `malloc`/`free` are jemalloc's; glibc's are",
                  "reached as `__libc_malloc`/`__libc_free`. 262144 B is the pool's default",
                  "large threshold (dedicated arena, no thread cache).", ""]
        if args.microbench_command:
            lines += [f"Command: `{args.microbench_command}`", ""]
        lines += micro
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"\n[bench] wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
