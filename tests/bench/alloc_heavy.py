# Allocation-heavy Python for scripts/bench: object graphs, dicts and lists that resize,
# string building and slicing, and short-lived bytes objects above pymalloc's 512-byte limit
# (those reach malloc directly). Deterministic (fixed seed); prints a checksum.
import sys
import random


class Node:
    __slots__ = ("key", "children", "payload")

    def __init__(self, key, payload):
        self.key = key
        self.children = []
        self.payload = payload


def build(rng, n):
    nodes = [Node(i, "x" * rng.randrange(1, 200)) for i in range(n)]
    for i in range(1, n):
        nodes[rng.randrange(0, i)].children.append(nodes[i])
    return nodes[0]


def walk(root):
    total, stack = 0, [root]
    while stack:
        node = stack.pop()
        total += node.key + len(node.payload)
        stack.extend(node.children)
    return total


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    rng = random.Random(12345)
    checksum = 0
    for _ in range(rounds):
        checksum += walk(build(rng, 40000))
        table = {}
        for i in range(60000):
            key = "k%d_%d" % (i, rng.randrange(1000))
            table.setdefault(key[:6], []).append(key)
        checksum += sum(len(v) for v in table.values())
        chunks = []
        for i in range(20000):
            blob = bytes(rng.randrange(600, 4000))
            chunks.append(blob[: len(blob) // 2])
            if len(chunks) > 256:
                chunks = chunks[128:]
        checksum += sum(map(len, chunks))
        text = " ".join(str(i * i) for i in range(80000))
        words = text.split()
        checksum += len(sorted(words, key=len))
        checksum += len({w[-3:] for w in words})
    print("python checksum", checksum)


main()
