#!/usr/bin/env python3
"""No circle of files: the "uses" graph of every library's objects is acyclic.

File A uses file B when A's object has an undefined symbol that B's object
defines (nm on the object files of each static library in the build tree).
A circle is a strongly connected component of that graph with more than one
file; it is reported as its sorted file names, with one concrete path through
it and the symbols on each step, so the reader sees which calls close it.

There is no list of circles allowed: the last one (the Redis backend, issue
18) is gone, and the test fails on any circle at all.

Usage: check_file_cycles.py [BUILD_DIR]; BUILD_DIR defaults to $ECHOD_BUILD_DIR.
"""

import collections
import os
import subprocess
import sys



SOURCE_DIR = os.environ.get("ECHOD_SOURCE_DIR")


def library_objects(build_dir):
    """Yield (source file name, object path) for every static library's objects.

    A library is a lib<target>.a with a CMakeFiles/<target>.dir beside it. Nested
    build trees (a directory with its own CMakeCache.txt, such as the e2e
    packaging build) are skipped: their objects are copies of the same sources
    and would join the graph twice.
    """
    for root, dirs, files in os.walk(build_dir):
        if root != build_dir and "CMakeCache.txt" in files:
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d != "_deps"]
        for name in files:
            if not (name.startswith("lib") and name.endswith(".a")):
                continue
            target = name[3:-2]
            objdir = os.path.join(root, "CMakeFiles", target + ".dir")
            if not os.path.isdir(objdir):
                continue
            source_dir = os.path.relpath(root, build_dir)
            for oroot, _, ofiles in os.walk(objdir):
                for ofile in sorted(ofiles):
                    if not ofile.endswith(".o"):
                        continue
                    rel = os.path.relpath(os.path.join(oroot, ofile), objdir)
                    source = os.path.normpath(os.path.join(source_dir, rel[:-2]))
                    # An object whose source is gone (a file moved since the
                    # last build) is stale: it is not part of the program.
                    if SOURCE_DIR and not os.path.exists(os.path.join(SOURCE_DIR, source)):
                        continue
                    yield source, os.path.join(oroot, ofile)


def symbols(objects, nm_flag):
    """Map object path -> set of global symbol names nm lists with nm_flag."""
    result = {path: set() for path in objects}
    paths = list(objects)
    # nm takes many files at once; chunks keep the command line bounded.
    for start in range(0, len(paths), 200):
        chunk = paths[start:start + 200]
        out = subprocess.run(["nm", "-A", "-P", nm_flag] + chunk, check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            head, sep, rest = line.rpartition(": ")
            if not sep:
                continue
            fields = rest.split()
            if len(fields) < 2:
                continue
            name, kind = fields[0], fields[1]
            # Lower-case kinds are local symbols (static functions, string
            # literals): no other file can use them. 'w' and 'U' are references.
            if nm_flag == "--defined-only" and (not kind.isupper() or kind == "U"):
                continue
            result[head].add(name)
    return result


def uses_graph(build_dir):
    """Return (graph, why): graph[a] = files a uses; why[(a, b)] = the symbols."""
    by_object = dict((path, source) for source, path in library_objects(build_dir))
    defined = symbols(by_object, "--defined-only")
    undefined = symbols(by_object, "--undefined-only")
    definers = collections.defaultdict(set)
    for path, names in defined.items():
        for name in names:
            definers[name].add(by_object[path])
    graph = {source: set() for source in by_object.values()}
    why = collections.defaultdict(set)
    for path, names in undefined.items():
        user = by_object[path]
        for name in names:
            for owner in definers.get(name, ()):
                if owner != user:
                    graph[user].add(owner)
                    why[(user, owner)].add(name)
    return graph, why


def circles(graph):
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
    return sorted(found)


def shortest_loop(graph, component):
    """One shortest path from the component's first file back to itself."""
    members = set(component)
    start = component[0]
    previous = {}
    queue = collections.deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [start]


def describe(graph, why, component):
    lines = ["  " + " ".join(component)]
    loop = shortest_loop(graph, component)
    for user, owner in zip(loop, loop[1:]):
        names = sorted(why[(user, owner)])
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        lines.append("    %s -> %s (%s)" % (user, owner, shown))
    return "\n".join(lines)


def main(argv):
    build_dir = argv[1] if len(argv) > 1 else os.environ.get("ECHOD_BUILD_DIR")
    if not build_dir:
        print("usage: check_file_cycles.py BUILD_DIR (or set ECHOD_BUILD_DIR)")
        return 2
    graph, why = uses_graph(os.path.abspath(build_dir))
    if not graph:
        print("no library objects under %s: build first" % build_dir)
        return 1
    found = circles(graph)
    print("%d files, %d circles" % (len(graph), len(found)))
    for component in found:
        print("FAIL circle of files:")
        print(describe(graph, why, component))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
