"""No circle of files (docs/architecture.md): file A uses file B when A's
object has an undefined symbol that B's object defines (nm). Exits 1 and
names the files of each cycle, else prints the graph.

  python3 check_call_graph.py DIRECTORY   (the objects, *.o, found beneath it)"""

import collections
import pathlib
import subprocess
import sys


def symbols(obj):
    defined, undefined = set(), set()
    out = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, undefined


def cycles(edges):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main():
    objects = sorted(pathlib.Path(sys.argv[1]).rglob("*.o"))
    if not objects:
        sys.exit("no objects under %s" % sys.argv[1])
    table = {o.name.split(".")[0]: symbols(o) for o in objects}
    edges = collections.defaultdict(set)
    for a, (_, undefined) in table.items():
        edges[a]
        for b, (defined, _) in table.items():
            if a != b and undefined & defined:
                edges[a].add(b)
    for a in sorted(edges):
        print("%s -> %s" % (a, " ".join(sorted(edges[a])) or "(nothing)"))
    found = cycles(edges)
    if found:
        sys.exit("circles of files: " + "; ".join(" <-> ".join(c) for c in found))
    print("no circle among %d files" % len(table))


if __name__ == "__main__":
    main()
