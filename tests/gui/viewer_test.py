#!/usr/bin/env python3
"""The viewer end to end under Xvfb: a screenshot of a recorded trace shows every panel, a live
run shows live bytes rising and falling and then the program's exit, attaching to a running
process by pid follows it, and bad input gives one line and a non-zero exit.

usage: viewer_test.py --viewer heaplens-view --heaplens heaplens --fixture burst_fixture CASE
Needs HEAPLENS_PRELOAD (libheaplens.so) and xvfb-run."""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

A = None
MIB = 1 << 20


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def xvfb(cmd, timeout=120, env=None):
    full = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"] + cmd
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env)


def read_png(path):
    """Width, height and RGBA rows of an 8-bit RGBA PNG (what the viewer writes)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color != 6:
                fail(f"{path}: expected 8-bit RGBA, got depth {depth} colour type {color}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, rows, prev = w * 4, [], bytearray(w * 4)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b = prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows


def check_png(path, width, height):
    w, h, rows = read_png(path)
    if (w, h) != (width, height):
        fail(f"{path}: {w}x{h}, expected {width}x{height}")
    colours = set()
    lit = 0
    for y in range(0, h, 3):
        row = rows[y]
        for x in range(0, w * 4, 12):
            px = bytes(row[x:x + 3])
            colours.add(px)
            if sum(px) > 200:
                lit += 1
    if len(colours) < 20 or lit < 500:
        fail(f"{path} looks blank: {len(colours)} colours, {lit} light pixels sampled")
    return len(colours)


def rises_and_falls(series, step):
    """How many times the live bytes rose by at least `step` and fell back by `step`."""
    rises = falls = 0
    low, high, state = None, None, "low"
    for _, mn, mx, _last in series:
        if low is None:
            low = high = mn
        if state == "low":
            low = min(low, mn)
            if mx - low >= step:
                rises += 1
                state, high = "high", mx
        else:
            high = max(high, mx)
            if high - mn >= step:
                falls += 1
                state, low = "low", mn
    return rises, falls


def record_fixture(tmp):
    trace = os.path.join(tmp, "burst.trace")
    r = subprocess.run([A.heaplens, "run", "--mode", "full", "-q", "-o", trace, "--", A.fixture, "2", "8", "50"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(trace):
        fail(f"heaplens run: {r.returncode} {r.stderr}")
    return trace


def case_screenshot(tmp):
    trace = record_fixture(tmp)
    png, state = os.path.join(tmp, "shot.png"), os.path.join(tmp, "state.json")
    # Through `heaplens view`, which starts the viewer next to it.
    r = xvfb([A.heaplens, "view", trace, "--screenshot", png, "--size", "1280x800", "--exit-when-done",
              "--state-json", state], env=dict(os.environ, HEAPLENS_VIEWER=A.viewer))
    if r.returncode != 0:
        fail(f"viewer exited {r.returncode}: {r.stderr}")
    colours = check_png(png, 1280, 800)
    s = json.load(open(state))
    want = {"header", "timeline", "sites", "call tree", "flame graph", "leaks", "devices", "pools", "sizes", "session"}
    missing = want - set(s["panels_drawn"])
    if missing:
        fail(f"panels never drawn: {sorted(missing)} (drawn: {s['panels_drawn']})")
    if not {"timeline", "sites", "leaks"} <= set(s["last_frame_panels"]):
        fail(f"the final frame lacks the default panels: {s['last_frame_panels']}")
    if s["state"] != "exited" or not s["source_done"]:
        fail(f"state {s['state']}, done {s['source_done']}")
    if not 3 * MIB <= s["leaks"]["bytes"] < 3 * MIB + 64 * 1024:
        fail(f"leaked bytes {s['leaks']['bytes']}: expected the 3 MiB block plus at most the C runtime's buffers")
    if not any(t["function"] == "leak_here" for t in s["top_sites"]):
        fail(f"leak_here not among the top sites: {s['top_sites']}")
    if abs(s["peak_bytes"] - 8 * MIB) > 1 * MIB:
        fail(f"peak {s['peak_bytes']} is not about 8 MiB")
    print(f"ok: screenshot {png}: {colours} colours; panels {sorted(s['panels_drawn'])}")


def case_live(tmp):
    png, state = os.path.join(tmp, "live.png"), os.path.join(tmp, "state.json")
    trace = os.path.join(tmp, "live.trace")
    r = xvfb([A.viewer, "--run", "--mode", "full", "-o", trace, "--exit-when-done", "--state-json", state,
              "--screenshot", png, "--", A.fixture, "3", "16", "300"])
    if r.returncode != 0:
        fail(f"viewer --run exited {r.returncode} (the program exits 0): {r.stderr}")
    if "burst_fixture done" not in r.stdout:
        fail(f"the program's output did not pass through: {r.stdout!r}")
    check_png(png, 1280, 800)
    s = json.load(open(state))
    if s["state"] != "exited":
        fail(f"the viewer did not show the program's exit: state {s['state']}")
    rises, falls = rises_and_falls(s["host_live"], 12 * MIB)
    if rises < 3 or falls < 3:
        fail(f"live bytes rose {rises} and fell {falls} times by 12 MiB; expected 3 bursts of 16 MiB: {s['host_live'][:40]}")
    if s["latency_ms"]["count"] < 3:
        fail(f"too few frames saw new records: {s['latency_ms']}")
    if not os.path.exists(trace):
        fail("the run's trace was not kept")
    print(f"ok: live run: {rises} rises, {falls} falls; record-to-screen latency {s['latency_ms']}")


def case_attach(tmp):
    env = dict(os.environ, LD_PRELOAD=os.environ["HEAPLENS_PRELOAD"], HEAPLENS_MODE="full",
               HEAPLENS_ON_FULL="wait")
    prog = subprocess.Popen([A.fixture, "3", "16", "400"], env=env, stdout=subprocess.PIPE, text=True)
    state = os.path.join(tmp, "state.json")
    try:
        # The session exists once the library's constructor ran.
        deadline = time.time() + 10
        r = None
        while time.time() < deadline:
            r = xvfb([A.viewer, str(prog.pid), "--exit-when-done", "--state-json", state])
            if r.returncode == 0 or ("no heaplens session" not in r.stderr and "being set up" not in r.stderr):
                break
            time.sleep(0.05)
        if r.returncode != 0:
            fail(f"viewer PID exited {r.returncode}: {r.stderr}")
    finally:
        out, _ = prog.communicate(timeout=30)
    if prog.returncode != 0 or "burst_fixture done" not in out:
        fail(f"the program was disturbed: exit {prog.returncode}, output {out!r}")
    s = json.load(open(state))
    if s["state"] != "exited" or s["pid"] != prog.pid:
        fail(f"state {s['state']} pid {s.get('pid')}, expected exited {prog.pid}")
    rises, falls = rises_and_falls(s["host_live"], 12 * MIB)
    if rises < 2 or falls < 2:
        fail(f"attached viewer saw {rises} rises and {falls} falls: {s['host_live'][:40]}")
    print(f"ok: attached to pid {prog.pid}: {rises} rises, {falls} falls")


def case_picker(tmp):
    # Full mode: the session exists from the fixture's first allocation, before its quiet start.
    env = dict(os.environ, LD_PRELOAD=os.environ["HEAPLENS_PRELOAD"], HEAPLENS_MODE="full")
    prog = subprocess.Popen([A.fixture, "1", "1", "1500"], env=env, stdout=subprocess.PIPE, text=True)
    state = os.path.join(tmp, "state.json")
    try:
        time.sleep(0.3)
        r = xvfb([A.viewer, "--frames", "20", "--state-json", state])
    finally:
        out, _ = prog.communicate(timeout=30)
    if r.returncode != 0:
        fail(f"picker exited {r.returncode}: {r.stderr}")
    s = json.load(open(state))
    if "picker" not in s["panels_drawn"] or prog.pid not in s.get("picker_pids", []):
        fail(f"the picker did not list pid {prog.pid}: {s.get('picker_pids')} {s['panels_drawn']}")
    if prog.returncode != 0 or "burst_fixture done" not in out:
        fail(f"the program was disturbed: exit {prog.returncode}, output {out!r}")
    print(f"ok: the picker listed pid {prog.pid}")


def one_line_error(r, code, what):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if r.returncode != code or len(lines) != 1 or "Traceback" in r.stderr or "Segmentation" in r.stderr:
        fail(f"{what}: exit {r.returncode} (want {code}), stderr {r.stderr!r}")


def case_bad_input(tmp):
    junk = os.path.join(tmp, "junk.trace")
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    one_line_error(xvfb([A.viewer, junk]), 1, "a file that is not a trace")
    one_line_error(xvfb([A.viewer, os.path.join(tmp, "missing.trace")]), 1, "a missing file")
    one_line_error(xvfb([A.viewer, "999999999"]), 1, "a pid without a session")
    one_line_error(xvfb([A.viewer, "--size", "10x", "x"]), 2, "a bad --size")
    one_line_error(xvfb([A.viewer, "--run"]), 2, "--run without a program")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    trace = record_fixture(tmp)
    one_line_error(subprocess.run([A.viewer, trace, "--frames", "1"], capture_output=True, text=True, env=env,
                                  timeout=30), 1, "no display")
    # `heaplens run --view` starts the viewer, which says in one line that it has no display;
    # the program never starts.
    out = os.path.join(tmp, "never.trace")
    one_line_error(subprocess.run([A.heaplens, "run", "--view", "-o", out, "--", A.fixture, "0"], capture_output=True,
                                  text=True, env=dict(env, HEAPLENS_VIEWER=A.viewer), timeout=30), 1,
                   "run --view without a display")
    # A trace cut short and one damaged in its middle: the window opens and says so.
    data = open(trace, "rb").read()
    for name, blob in (("cut", data[:len(data) * 2 // 3]),
                       ("damaged", data[:len(data) // 2] + bytes(b ^ 0x5A for b in data[len(data) // 2:len(data) // 2 + 64]) +
                        data[len(data) // 2 + 64:])):
        path, state = os.path.join(tmp, name + ".trace"), os.path.join(tmp, name + ".json")
        with open(path, "wb") as f:
            f.write(blob)
        r = xvfb([A.viewer, path, "--exit-when-done", "--state-json", state])
        if r.returncode not in (0, 1) or not os.path.exists(state):
            fail(f"{name} trace: exit {r.returncode}, {r.stderr}")
        s = json.load(open(state))
        if not s.get("problem"):
            fail(f"{name} trace: the viewer showed no problem: {s}")
    print("ok: bad input")


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--viewer", required=True)
    p.add_argument("--heaplens", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("case", choices=["screenshot", "live", "attach", "picker", "bad_input"])
    A = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="heaplens-view-test-") as tmp:
        globals()["case_" + A.case](tmp)


if __name__ == "__main__":
    main()
