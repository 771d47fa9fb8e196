"""The peer tools of scripts/bench (imported by harness.py): how each one wraps a run, what its
own output says afterwards (the figures it reports), and the slowdown plot.

A peer configuration is `--tool NAME=KIND`; KIND is one of

  heaplens-run  `heaplens run --mode full -o OUT/trace -- PROG`: full mode, recording every
                allocation and free into a trace (the reader drains the rings as they fill; no
                record is dropped), as a user records a program; its summary on stderr gives
                the trace size, the record count and heaplens's own "tracking overhead"
  heaptrack     `heaptrack -o OUT/ht PROG` (Debian's heaptrack): records into OUT/ht.zst;
                its "heaptrack stats" (allocations, leaked, temporary) are parsed
  memcheck      `valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,possible
                --trace-children=yes --log-file=OUT/vg.%p.log PROG` (run on the reduced input)
  massif        `valgrind --tool=massif --trace-children=yes --massif-out-file=OUT/massif.out.%p
                PROG` (reduced input); the peak is the largest mem_heap_B of its snapshots
  jeprof        LD_PRELOAD=libjemalloc.so.2 with MALLOC_CONF=prof:true,lg_prof_sample:19
                (jemalloc's sampled heap profiler, one sample per 512 KiB on average) plus
                prof_final:true,prof_leak:true,prof_prefix:OUT/jeprof: it dumps a profile at
                exit and prints its "Leak approximation summary" on stderr

Every figure here is read from the tool's own output files; none is computed by guessing.
"""

import glob
import os
import re
import shutil
import subprocess

KINDS = ("heaplens-run", "heaptrack", "memcheck", "massif", "jeprof")
VALGRIND_KINDS = ("memcheck", "massif")

TOOL_DESC = {
    "heaplens-run": "`heaplens run --mode full -o OUT/trace -- PROG`: full mode with a reader "
                    "writing the trace (lossless, what a user records)",
    "heaptrack": "`heaptrack -o OUT/ht PROG` (Debian's heaptrack {version})",
    "memcheck": "`valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,possible "
                "--trace-children=yes --log-file=OUT/vg.%p.log PROG` (valgrind {version}; reduced input)",
    "massif": "`valgrind --tool=massif --trace-children=yes --massif-out-file=OUT/massif.out.%p PROG` "
              "(valgrind {version}; reduced input)",
    "jeprof": "`LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,lg_prof_sample:19,prof_final:true,"
              "prof_leak:true,prof_prefix:OUT/jeprof PROG` (jemalloc's sampled profiler, Debian jemalloc {version})",
}


def tool_versions():
    def dpkg(p):
        try:
            return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p], capture_output=True,
                                  text=True).stdout.strip() or "?"
        except OSError:
            return "?"
    return {"heaplens-run": "", "heaptrack": dpkg("heaptrack"), "memcheck": dpkg("valgrind"),
            "massif": dpkg("valgrind"), "jeprof": dpkg("libjemalloc2")}


def check_available(kind, heaplens_cli=None, jemalloc=None):
    """None if the tool can run here, else why not."""
    if kind == "heaplens-run":
        return None if heaplens_cli and os.access(heaplens_cli, os.X_OK) else f"{heaplens_cli}: not built"
    if kind == "heaptrack":
        return None if shutil.which("heaptrack") else "heaptrack is not installed (apt-get install heaptrack)"
    if kind in VALGRIND_KINDS:
        return None if shutil.which("valgrind") else "valgrind is not installed (apt-get install valgrind)"
    if kind == "jeprof":
        return None if jemalloc and os.path.exists(jemalloc) else "libjemalloc.so.2 not found"
    return f"unknown tool kind {kind}"


def wrap(kind, out, heaplens_cli=None, jemalloc=None):
    """(argv prefix, extra environment) for one run whose tool output goes to directory out."""
    if kind == "heaplens-run":
        return [heaplens_cli, "run", "--mode", "full", "-o", os.path.join(out, "trace"), "--"], {}
    if kind == "heaptrack":
        return ["heaptrack", "-o", os.path.join(out, "ht")], {}
    if kind == "memcheck":
        return ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,possible",
                "--trace-children=yes", f"--log-file={out}/vg.%p.log"], {}
    if kind == "massif":
        return ["valgrind", "--tool=massif", "--trace-children=yes",
                f"--massif-out-file={out}/massif.out.%p"], {}
    if kind == "jeprof":
        return [], {"LD_PRELOAD": jemalloc,
                    "MALLOC_CONF": f"prof:true,lg_prof_sample:19,prof_final:true,prof_leak:true,"
                                   f"prof_prefix:{out}/jeprof"}
    raise ValueError(kind)


# heaptrack (the script) prints its own lines on stdout around the program's.
_HEAPTRACK_NOISE = re.compile(
    r"^(heaptrack output will be written to .*|/.*libheaptrack_(preload|inject)\.so|"
    r"starting application, this might take some time\.\.\.|"
    r"Heaptrack finished! Now run the following to investigate the data:|"
    r"  heaptrack --analyze .*|heaptrack stats:|\t(allocations|leaked allocations|temporary allocations):.*)$")


def program_stdout(kind, stdout):
    """The program's own stdout, without what the tool printed around it."""
    if kind != "heaptrack":
        return stdout
    lines = stdout.split("\n")
    kept = [ln for ln in lines if not _HEAPTRACK_NOISE.match(ln)]
    # heaptrack's closing block is preceded and followed by an empty line.
    while kept and kept[-1] == "" and len(kept) > 1 and kept[-2] == "":
        kept.pop()
    text = "\n".join(kept)
    return text.rstrip("\n") + "\n" if text.strip() else text.strip("\n")


def _num(s):
    return int(s.replace(",", ""))


def _size(path_glob):
    return sum(os.path.getsize(p) for p in glob.glob(path_glob) if os.path.isfile(p))


_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_heaplens_summary(stderr):
    """Figures of `heaplens run`'s summary lines (all processes of the run added up)."""
    out = {"overhead_pct": [], "peak": 0, "leaked_bytes": 0, "leaked_blocks": 0, "records": None,
           "dropped": 0}
    for m in re.finditer(r"peak ([\d.]+) (B|KiB|MiB|GiB); leaked ([\d.]+) (B|KiB|MiB|GiB) in (\d+) blocks"
                         r".*?; (\d+) records dropped; tracking overhead ([\d.]+)% of CPU", stderr):
        out["peak"] = max(out["peak"], float(m.group(1)) * _UNITS[m.group(2)])
        out["leaked_blocks"] += int(m.group(5))
        out["dropped"] += int(m.group(6))
        out["overhead_pct"].append(float(m.group(7)))
    m = re.search(r"heaplens: trace \S+ \(([\d.]+ \w+), (\d+) records\)", stderr)
    if m:
        out["records"] = int(m.group(2))
    return out


def extract(kind, out, stdout, stderr):
    """What the tool itself reports about one run (dict; missing figures are absent)."""
    f = {}
    if kind == "heaplens-run":
        s = parse_heaplens_summary(stderr)
        f["trace_bytes"] = _size(os.path.join(out, "trace*"))
        if s["records"] is not None:
            f["events"] = s["records"]
            f["event_what"] = "records (allocations + frees)"
        if s["overhead_pct"]:
            f["reported_overhead_pct"] = max(s["overhead_pct"])
        f["dropped"] = s["dropped"]
    elif kind == "heaptrack":
        text = stdout + "\n" + stderr
        m = re.search(r"allocations:\s*\t?(\d+)", text)
        f["trace_bytes"] = _size(os.path.join(out, "ht*"))
        if m:
            f["allocations"] = int(m.group(1))
        m = re.search(r"leaked allocations:\s*\t?(\d+)", text)
        if m:
            f["leaked_blocks"] = int(m.group(1))
        files = glob.glob(os.path.join(out, "ht*.zst")) + glob.glob(os.path.join(out, "ht*.gz"))
        f["file"] = files[0] if files else None
    elif kind == "memcheck":
        allocs = frees = 0
        main = None
        for log in sorted(glob.glob(os.path.join(out, "vg.*.log"))):
            text = open(log, errors="replace").read()
            m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated", text)
            if not m:
                continue
            allocs += _num(m.group(1))
            frees += _num(m.group(2))
            kinds = {k: (_num(b), _num(n)) for k, b, n in re.findall(
                r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes in ([\d,]+) blocks", text)}
            in_use = re.search(r"in use at exit: ([\d,]+) bytes in ([\d,]+) blocks", text)
            proc = {"definite": kinds.get("definitely", (0, 0)), "possible": kinds.get("possibly", (0, 0)),
                    "indirect": kinds.get("indirectly", (0, 0)),
                    "in_use": (_num(in_use.group(1)), _num(in_use.group(2))) if in_use else (0, 0),
                    "total_allocs": _num(m.group(1))}
            if main is None:  # the first process (lowest pid) with a heap summary
                main = proc
        f["allocations"] = allocs
        if main:
            f["leak"] = (main["definite"][0] + main["possible"][0], main["definite"][1] + main["possible"][1])
            f["in_use"] = main["in_use"]
    elif kind == "massif":
        peak = 0
        for path in glob.glob(os.path.join(out, "massif.out.*")):
            for m in re.finditer(r"mem_heap_B=(\d+)", open(path, errors="replace").read()):
                peak = max(peak, int(m.group(1)))
        f["peak"] = peak
        f["trace_bytes"] = _size(os.path.join(out, "massif.out.*"))
    elif kind == "jeprof":
        m = None
        for m in re.finditer(r"Leak approximation summary: ~(\d+) bytes, ~(\d+) objects", stderr):
            pass
        if m:
            f["leak"] = (int(m.group(1)), int(m.group(2)))
        else:
            f["leak"] = (0, 0) if "<jemalloc>" not in stderr else None
        f["trace_bytes"] = _size(os.path.join(out, "jeprof*"))
    return f


_LC = []


def load_leak_crosscheck():
    if _LC:
        return _LC[0]
    import importlib.machinery
    import importlib.util
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "scripts", "leak-crosscheck")
    try:
        sys.dont_write_bytecode = True
        loader = importlib.machinery.SourceFileLoader("leak_crosscheck", path)
        spec = importlib.util.spec_from_loader("leak_crosscheck", loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
    except Exception:
        mod = None
    _LC.append(mod)
    return mod


# --- plot ------------------------------------------------------------------------------------

def plot(path, workloads, tools, ratios, title):
    """A grouped bar chart (log scale) of slowdown / native per workload per tool, with gnuplot.
    ratios[(workload, tool)] = median paired ratio or None. Returns None, or why no plot."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "gnuplot is not installed (apt-get install gnuplot-nox)"
    dat = path + ".dat"
    with open(dat, "w") as f:
        f.write("workload " + " ".join(f'"{t}"' for t in tools) + "\n")
        for w in workloads:
            vals = [ratios.get((w, t)) for t in tools]
            f.write(f'"{w}" ' + " ".join(f"{v:.4f}" if v else "NaN" for v in vals) + "\n")
    colors = {"jemalloc": "#7f7f7f", "heaplens-off": "#9ecae1", "heaplens": "#3182bd",
              "heaplens-full": "#08519c", "heaplens-run": "#2ca02c", "jeprof": "#bcbd22",
              "heaptrack": "#d62728", "memcheck": "#222222", "massif": "#9467bd"}
    cols = " , ".join(f"'{dat}' using {i + 2}:xtic(1) title columnheader({i + 2}) lc rgb '{colors.get(t, '#17becf')}'"
                      for i, t in enumerate(tools))
    script = f"""
set terminal pngcairo size 1400,650 font ',10'
set output '{path}'
set title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y 2
set yrange [0.25:*]
set ylabel 'wall time / native (median of paired ratios, log scale)'
set grid ytics
set key outside right top vertical
set xtics rotate by -25
set arrow from graph 0, first 1.05 to graph 1, first 1.05 nohead dt 2 lc rgb '#aa0000'
plot {cols}
"""
    res = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    os.unlink(dat)
    if res.returncode != 0:
        return "gnuplot failed: " + res.stderr.strip()[-300:]
    return None
