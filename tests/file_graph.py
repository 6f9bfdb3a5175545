#!/usr/bin/env python3
"""file_graph.py NM OBJECT... — the call graph between the source files of a library, from its
object files: file A uses file B when A's object has an undefined symbol that B's object defines.

Fails (exit 1) when the files form a cycle (A uses B uses ... uses A), printing each cycle; when a
file uses one of a higher layer of models/ (config, data, nn, sample < run < methods < cli: a layer
uses only its own and lower ones); and when
a source file outside models/methods/ names a training method (a [run] method value of the registry
as a C string, or an ebm_method_<name> symbol): the training loop, checkpoints and commands reach
methods only through the registry. Prints the graph, a line per file, otherwise.
"""
import os, re, subprocess, sys


def symbols(nm, obj):
    out = subprocess.run([nm, "--defined-only", "-g", obj], capture_output=True, text=True, check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if len(l.split()) >= 3}
    out = subprocess.run([nm, "-u", obj], capture_output=True, text=True, check=True).stdout
    undefined = {l.split()[-1] for l in out.splitlines() if l.split()}
    return defined, undefined


def source_name(obj):
    name = obj.replace(os.sep, "/")
    m = re.search(r"\.dir/(.*)\.o$", name)
    return m.group(1) if m else os.path.basename(name)


def cycles(graph):
    """every strongly connected component of more than one file (Tarjan)"""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    nm = sys.argv[1]
    objs = [o for a in sys.argv[2:] for o in a.split(";") if o]   # CMake passes $<TARGET_OBJECTS> as one list
    files = {source_name(o): symbols(nm, o) for o in objs}
    owner = {}
    for f, (defined, _) in files.items():
        for s in defined:
            owner[s] = f
    graph = {f: sorted({owner[s] for s in und if s in owner and owner[s] != f}) for f, (_, und) in files.items()}
    bad = 0
    for comp in cycles(graph):
        print("CYCLE: " + " <-> ".join(comp) + "  (" + "; ".join(f"{a} -> {', '.join(b for b in graph[a] if b in comp)}" for a in comp) + ")")
        bad = 1
    layers = {"config": 0, "data": 0, "nn": 0, "sample": 0, "run": 1, "methods": 2, "cli": 3}

    def layer(f):
        m = re.match(r"models/(\w+)/", f)
        return layers.get(m.group(1)) if m else None

    for f in sorted(graph):
        for g in graph[f]:
            if layer(f) is not None and layer(g) is not None and layer(g) > layer(f):
                print(f"LAYER: {f} (layer {layer(f)}) uses {g} (layer {layer(g)})")
                bad = 1
            if layer(f) == 0 and layer(g) == 0 and f.split("/")[1] != g.split("/")[1]:
                print(f"LAYER: {f} uses {g}: the base folders (config, data, nn, sample) are independent")
                bad = 1
    # method names outside models/methods/: the registry's names, from its source
    src_dir = os.environ.get("EBM_SOURCE_DIR")
    if src_dir:
        registry = open(os.path.join(src_dir, "models/methods/registry.c")).read()
        names = re.findall(r"&ebm_method_(\w+)", registry)
        pat = re.compile(r'"(?:%s)"|\bebm_method_(?:%s)\b' % ("|".join(names), "|".join(names)))
        for f in sorted(files):
            if "/methods/" in "/" + f:
                continue
            path = os.path.join(src_dir, f)
            for i, line in enumerate(open(path), 1):
                if pat.search(line):
                    print(f"METHOD NAME: {f}:{i}: {line.strip()}")
                    bad = 1
        print(f"methods of the registry: {', '.join(names)}")
    for f in sorted(graph):
        print(f"{f} -> {', '.join(graph[f]) or '(nothing)'}")
    print(f"{len(files)} files, {sum(len(v) for v in graph.values())} uses between them, {'FAIL' if bad else 'no cycle'}")
    return bad


if __name__ == "__main__":
    sys.exit(main())
