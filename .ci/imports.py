#!/usr/bin/env python3
"""Import circles and upward imports inside duet's crates.

Reads every `.rs` file under a crate's `src/`, turns each into a module
(`sql/src/planner/scan.rs` is `planner::scan`), and draws an edge from a file
to every file whose items it names: `use crate::a::b::X`, `use super::X`,
`use child::X`, and paths written inline (`crate::a::f()`, `super::f()`).
A name that a `mod.rs`/`lib.rs` only re-exports (`pub use child::X`) is
followed to the file that defines it, so a parent re-exporting its children
is not a circle. Test modules (`#[cfg(test)] mod ...` to the end of a file)
are left out: tests may reach anywhere. A `pub use` draws no edge itself.

It prints every strongly connected set of files (an import circle) and, for
crates given a layer order, every import of a folder above the importer's.
Exit status 1 when it found either.

    python3 .ci/imports.py            # every crate of the workspace
    python3 .ci/imports.py sql txn    # only these
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The pipeline order of `sql/`: a file may import its own folder and folders
# further down this list, never one above. Files at the crate root (parse,
# types, error ...) sit where listed, below the folders that use them.
LAYERS = {
    "sql": [
        "lib",
        "server",
        "execute",
        "planner",
        "executor",
        "admin",
        "ddl",
        "dml",
        "session",
        "parse",
        "dialect",
        "eval",
        "table",
        "types",
        "catalog",
        "protocol",
        "error",
    ],
}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_of(path, src):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def strip(text):
    """Source without comments, string literals and test modules."""
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+" + IDENT + r"\s*\{", text)
    if m:
        text = text[: m.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def rec(prefix, s):
        i = s.find("{")
        if i < 0:
            for part in split_top(s):
                out.append(prefix + part)
            return
        head = s[:i]
        body = s[i + 1 : matching(s, i)]
        for part in split_top(body):
            rec(prefix + head, part)

    rec("", tree)
    return out


def matching(s, i):
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(s)


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p for p in parts if p]


class Crate:
    def __init__(self, name):
        self.name = name
        self.src = os.path.join(ROOT, name, "src")
        self.files = {}  # module path -> file
        for d, _, fs in os.walk(self.src):
            for f in fs:
                if f.endswith(".rs"):
                    p = os.path.join(d, f)
                    self.files[module_of(p, self.src)] = p
        self.text = {m: strip(open(p).read()) for m, p in self.files.items()}
        # Names each module re-exports: name -> absolute path it comes from.
        self.reexports = {m: {} for m in self.files}
        for m, t in self.text.items():
            for u in re.findall(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);", t):
                for path in expand_use(u):
                    segs = path.split("::")
                    absolute = self.absolute(m, segs)
                    if absolute and segs[-1] != "*":
                        self.reexports[m][segs[-1]] = absolute

    def children(self, m):
        return {k[-1] for k in self.files if len(k) == len(m) + 1 and k[: len(m)] == m}

    def absolute(self, m, segs):
        if not segs:
            return None
        if segs[0] == "crate":
            return list(segs[1:])
        if segs[0] == "self":
            return list(m) + segs[1:]
        if segs[0] == "super":
            base = list(m)
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            return base + segs
        if segs[0] in self.children(m):
            return list(m) + segs
        return None

    def resolve(self, path, depth=0):
        """The file module a path's item is defined in."""
        for n in range(len(path), -1, -1):
            prefix = tuple(path[:n])
            if prefix in self.files:
                rest = path[n:]
                if rest and depth < 8 and rest[0] in self.reexports[prefix]:
                    return self.resolve(self.reexports[prefix][rest[0]] + rest[1:], depth + 1)
                return prefix
        return None

    def edges(self):
        out = {m: set() for m in self.files}
        for m, t in self.text.items():
            paths = []
            # A `pub use` only re-exports: names are followed through it to
            # the defining file, so it draws no edge of its own.
            for u in re.findall(r"(?<!pub )(?<!\) )\buse\s+([^;]+);", t):
                paths += [p.split("::") for p in expand_use(u)]
            for p in re.findall(r"\b((?:crate|super|self)(?:::" + IDENT + r")+)", t):
                paths.append(p.split("::"))
            kids = self.children(m)
            for p in re.findall(r"(?<![:\w])(" + IDENT + r"(?:::" + IDENT + r")+)", t):
                if p.split("::")[0] in kids:
                    paths.append(p.split("::"))
            for segs in paths:
                segs = [s for s in segs if s and s != "*"]
                a = self.absolute(m, segs)
                if a is None:
                    continue
                target = self.resolve(a)
                if target is not None and target != m:
                    out[m].add(target)
        return out


def sccs(graph):
    index, low, stack, on, result = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

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
            result.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in result if len(c) > 1]


def layer(crate, m):
    order = LAYERS.get(crate.name)
    if not order:
        return None
    top = m[0] if m else "lib"
    return order.index(top) if top in order else None


def name(m):
    return "::".join(m) or "lib"


def main():
    crates = sys.argv[1:] or [
        d for d in sorted(os.listdir(ROOT))
        if os.path.isfile(os.path.join(ROOT, d, "Cargo.toml")) and os.path.isdir(os.path.join(ROOT, d, "src"))
    ]
    bad = 0
    for c in crates:
        crate = Crate(c)
        graph = crate.edges()
        circles = sccs(graph)
        up = []
        for m, ts in graph.items():
            lm = layer(crate, m)
            for t in ts:
                lt = layer(crate, t)
                if lm is not None and lt is not None and lt < lm:
                    up.append((m, t))
        nedges = sum(len(v) for v in graph.values())
        print(f"{c}: {len(graph)} files, {nedges} imports, {len(circles)} circles, {len(up)} upward imports")
        for comp in circles:
            print(f"  circle of {len(comp)}: " + ", ".join(sorted(name(m) for m in comp)))
            for m in sorted(comp):
                inside = sorted(name(t) for t in graph[m] if t in comp)
                print(f"    {name(m)} -> {', '.join(inside)}")
        for m, t in sorted(up):
            print(f"  upward: {name(m)} -> {name(t)}")
        bad += len(circles) + len(up)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
