"""A deterministic Python workload for the heaplens integration test: dicts, strings, lists,
sorting, json and threads. Every line it prints must be the same with and without heaplens."""
import hashlib
import json
import threading
from collections import Counter, defaultdict


def lcg(seed):
    """Deterministic pseudo-random numbers without the random module's global state."""
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x >> 33


def digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def records(n, seed):
    r = lcg(seed)
    out = []
    for i in range(n):
        out.append({
            "id": i,
            "name": "user-%05d-%s" % (next(r) % 100000, "x" * (next(r) % 17)),
            "score": next(r) % 1000 / 7.0,
            "tags": ["t%d" % (next(r) % 50) for _ in range(next(r) % 6)],
        })
    return out


def dicts_and_sorting():
    recs = records(40000, 1)
    by_tag = defaultdict(list)
    for rec in recs:
        for t in rec["tags"]:
            by_tag[t].append(rec["id"])
    top = sorted(recs, key=lambda rec: (-rec["score"], rec["name"], rec["id"]))[:5]
    print("records", len(recs), "tags", len(by_tag))
    print("biggest tag", max(sorted(by_tag), key=lambda t: len(by_tag[t])))
    print("top", [(rec["id"], round(rec["score"], 3)) for rec in top])
    counts = Counter(len(rec["name"]) for rec in recs)
    print("name lengths", sorted(counts.items())[:6])
    # Delete half of a big dict, grow it again: exercises resizing and freeing.
    d = {rec["name"] + str(rec["id"]): rec for rec in recs}
    for k in list(d)[::2]:
        del d[k]
    d.update(("k%d" % i, i) for i in range(20000))
    print("dict", len(d), digest(sorted(d)[:100]))


def strings():
    words = ["".join(chr(97 + (i * j) % 26) for j in range(1 + i % 12)) for i in range(30000)]
    text = " ".join(words)
    print("text", len(text), text.count("ab"), text.upper()[:40])
    parts = text.split(" ")
    joined = "|".join(reversed(parts))
    print("joined", len(joined), hashlib.md5(joined.encode()).hexdigest())
    fmt = ["{:>8}:{:<6}:{:x}".format(w[:8], i, i * 31) for i, w in enumerate(parts[:5000])]
    print("formatted", len("".join(fmt)), fmt[4999])
    rep = text.replace("a", "AA").replace("b", "")
    print("replaced", len(rep))


def lists():
    r = lcg(7)
    xs = [next(r) % 1000003 for _ in range(100000)]
    ys = sorted(xs)
    zs = sorted(xs, reverse=True)
    print("sorted", ys[0], ys[-1], ys[50000], zs[:3] == ys[-1:-4:-1])
    nested = [[i] * (i % 10) for i in range(20000)]
    flat = [x for row in nested for x in row]
    print("flat", len(flat), sum(flat))
    stack = []
    for i in range(50000):
        stack.append((i, str(i)))
        if i % 3 == 0:
            stack.pop(0 if i % 2 else -1)
    print("stack", len(stack), stack[0], stack[-1])
    tuples = sorted(set((x % 97, x % 89) for x in xs))
    print("tuples", len(tuples), tuples[:3])


def json_roundtrip():
    doc = {"records": records(5000, 3), "meta": {"version": 1, "names": ["a", "b"] * 100}}
    text = json.dumps(doc, sort_keys=True, indent=1)
    back = json.loads(text)
    print("json", len(text), back == doc, digest(back))
    for _ in range(5):
        back = json.loads(json.dumps(back))
    print("json again", digest(back) == digest(doc))


def threads():
    results = {}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work(k):
        barrier.wait()
        r = lcg(100 + k)
        local = {}
        for i in range(20000):
            key = "k%d" % (next(r) % 5000)
            local[key] = local.get(key, "") + chr(65 + i % 26)
            if len(local[key]) > 40:
                local[key] = local[key][20:]
        summary = sorted((k2, len(v)) for k2, v in local.items())
        with lock:
            results[k] = digest(summary)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads", len(results), digest([results[k] for k in sorted(results)]))


def main():
    dicts_and_sorting()
    strings()
    lists()
    json_roundtrip()
    threads()
    print("done")


if __name__ == "__main__":
    main()
