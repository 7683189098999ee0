"""The layers, computed from the code: imports go one way, no circles, small modules.

The graph is read with `ast` from every module of the installed packages, function-local and
type-checking imports included. `from a.b import c` is an edge to `a.b.c` when that is a
module, else to `a.b`.
"""

from __future__ import annotations

import ast
import io
import statistics
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Bottom to top. A module may import its own layer and the layers below it, never above.
# Layers on one line are peers and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kernel",),
    ("synth",),
    ("synth_varied",),
    ("models", "models.detection"),
    ("models.tooling",),
    ("cluster", "cluster.ray", "cluster.triton"),
    ("monitoring",),
    ("jobs.store",),
    ("jobs.spec",),
    ("jobs.ingest",),
    ("jobs.rounds",),
    ("jobs.run",),
    ("jobs.report",),
    ("jobs",),
    ("jobs.clinical",),
    ("jobs.service",),
    ("bench",),
    ("cli",),
)
PACKAGES = ("kernel", "synth", "synth_varied", "models", "cluster", "monitoring", "jobs", "bench",
            "cli")
# What serves a campaign: it never reaches data generation or the benchmarks.
RUNTIME = ("kernel", "models.detection", "cluster", "monitoring", "jobs")
OFF_RUNTIME = ("synth", "synth_varied", "bench", "models.tooling")
# jobs.ingest.cases reads a cohort folder into evaluation cases for models.tooling.
RUNTIME_EXCEPTIONS = {"jobs.ingest.cases"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            # Triton's model repository holds loader shims run by the python backend stub
            if path.relative_to(REPO).parts[1].startswith("repository"):
                continue
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> Iterator[str]:
    mods = modules()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module
                       for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target


@cache
def graph() -> dict[str, set[str]]:
    return {name: set(_imports(name, path)) for name, path in modules().items()}


def _layer(module: str) -> tuple[int, str]:
    best: tuple[int, str] = (-1, "")
    for rank, peers in enumerate(LAYERS):
        for prefix in peers:
            if ((module == prefix or module.startswith(prefix + "."))
                    and len(prefix) > len(best[1])):
                best = (rank, prefix)
    return best


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_every_module_has_a_layer():
    assert [m for m in modules() if _layer(m)[0] < 0] == []


def test_imports_go_down_the_layers_only():
    upward = []
    for src, targets in graph().items():
        s_rank, s_group = _layer(src)
        for dst in targets:
            d_rank, d_group = _layer(dst)
            if d_rank > s_rank or (d_rank == s_rank and d_group != s_group):
                upward.append(f"{src} -> {dst}")
    assert upward == []


def test_kernel_imports_nothing_above_itself():
    assert {f"{s} -> {d}" for s, ts in graph().items() if s.startswith("kernel")
            for d in ts if not d.startswith("kernel")} == set()


def test_the_store_imports_nothing_of_monitoring():
    """The store keeps results; the adapter that turns them into metrics and status
    (jobs.run.store_progress) lives outside it."""
    bad = sorted(f"{m} -> {d}" for m, deps in graph().items() if _within(m, ("jobs.store",))
                 for d in deps if _within(d, ("monitoring",)))
    assert bad == []


def test_the_runtime_never_reaches_data_generation_or_benchmarks():
    leaks = [f"{s} -> {d}" for s, ts in graph().items()
             if _within(s, RUNTIME) and s not in RUNTIME_EXCEPTIONS
             for d in ts if _within(d, OFF_RUNTIME)]
    assert leaks == []


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_between_modules():
    assert _cycles(graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_an_upward_import_is_seen():
    assert _layer("models.detection.detector") < _layer("jobs.run.worker")
    assert _layer("jobs.ingest.sources.folder")[1] == "jobs.ingest"


@pytest.mark.parametrize("limit", [500])
def test_modules_stay_small(limit):
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules().items()}
    assert {m: n for m, n in sizes.items() if n > limit} == {}
    assert statistics.median(sizes.values()) <= 150


# -- one campaign wiring ------------------------------------------------------------------------

# Who may build the run's machinery: the driver in jobs.run.driving, executors in
# jobs.run.runtime. Everyone else (the CLI, the demo, the benchmarks) goes through
# jobs.run's prepare / drive and the backend and executor jobs.run.runtime opens.
BUILDERS = {"Driver": {"jobs.run.driving"}, "RayExecutor": {"jobs.run.runtime"},
            "InProcessExecutor": {"jobs.run.runtime"}}
BENCH_IMPORT_LIMIT = 8
# the index of suites imports each suite's module, and nothing else of the project
BENCH_INDEX = "bench.suites"


def _calls(path: Path) -> set[str]:
    """Names of the classes and functions `path` calls (`X(...)` or `a.X(...)`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def test_only_jobs_run_builds_a_driver_or_an_executor():
    """Each is built where BUILDERS says and nowhere else (equality: where it is, is seen)."""
    built: dict[str, set[str]] = {name: set() for name in BUILDERS}
    for module, path in modules().items():
        for name in _calls(path) & set(BUILDERS):
            built[name].add(module)
    assert built == BUILDERS


def test_benchmarks_reach_the_project_through_few_modules():
    heavy = {m: sorted(ts) for m, ts in graph().items()
             if m.startswith("bench.") and m != BENCH_INDEX and len(ts) > BENCH_IMPORT_LIMIT}
    assert heavy == {}
    assert all(t.startswith("bench.") for t in graph()[BENCH_INDEX])



def _bare_local_imports(source: str) -> list[int]:
    """The lines of the function-local imports in `source` with no comment on any of their
    lines (a module-level import needs no reason; one inside a function does)."""
    comments = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    bare: list[int] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                assert child.end_lineno is not None
                if comments.isdisjoint(range(child.lineno, child.end_lineno + 1)):
                    bare.append(child.lineno)
            visit(child, in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(source), False)
    return bare


def test_every_function_local_import_says_why():
    """An import inside a function says why it is not at the top (a heavy dependency loaded
    only where it is used, e.g. `# scipy: report only`); one without a reason belongs at the
    top of its module."""
    bare = {f"{path.relative_to(REPO)}:{line}" for path in modules().values()
            for line in _bare_local_imports(path.read_text())}
    assert bare == set()


def test_a_bare_function_local_import_is_seen():
    source = ("import os\n\ndef f():\n    import json\n    from a import (  # why\n"
              "        b,\n    )\n    import sys  # why\n")
    assert _bare_local_imports(source) == [4]


# -- distinct names -----------------------------------------------------------------------------

# Modules that share a file name within one package tree, each group with why. Any other
# shared name is a rename (a traceback or a search for `campaign.py` should find one module).
SHARED_NAMES: dict[tuple[str, ...], str] = {
    ("cli/commands/demo.py", "cli/demo.py"):
        "a command module is named after its command; cli.demo is what the command runs",
    ("jobs/service/routes/campaigns.py", "jobs/store/campaigns.py"):
        "a router is named after its API area (/campaigns), like a command",
    ("jobs/recall.py", "jobs/service/routes/recall.py"):
        "a router is named after its API area (/recall), like a command",
    ("jobs/service/routes/tokens.py", "jobs/store/tokens.py"):
        "a router is named after its API area (/tokens), like a command",
    ("jobs/ingest/sources/base.py", "jobs/store/base.py"):
        "each its package's shared base (Source, StoreBase), read as sources.base, store.base",
    ("jobs/release/formats.py", "jobs/report/formats.py"):
        "the released and the exact table, each package's renderers, built alike",
    ("jobs/release/html.py", "jobs/report/html.py"):
        "the released and the exact table, each package's HTML page, built alike",
}


def _shared_names() -> set[tuple[str, ...]]:
    by_tree: dict[tuple[str, str], list[str]] = {}
    for module, path in modules().items():
        if path.name != "__init__.py":
            by_tree.setdefault((module.split(".")[0], path.name), []).append(
                str(path.relative_to(REPO)))
    return {tuple(sorted(paths)) for paths in by_tree.values() if len(paths) > 1}


def test_no_two_modules_of_a_package_tree_share_a_file_name():
    """Equality: a new shared name fails, and so does an allowance no longer needed."""
    assert _shared_names() == set(SHARED_NAMES)


# -- package faces ------------------------------------------------------------------------------

# The CLI, the benchmarks and the service reach the other jobs packages through their faces:
# `from jobs.report import render`, not `from jobs.report.formats import render` (a face may
# load a heavy name on first use: jobs.spec, jobs.store, jobs.ingest, jobs.run). The modules
# directly under `jobs` (recall, status, audit_trail...) are their own faces. Exceptions, by
# importer and the modules it reaches into, with why:
FACE_USERS = ("cli", "bench", "jobs.service")
PAST_THE_FACE: dict[str, tuple[frozenset[str], str]] = {
    "cli.commands.model": (frozenset({"jobs.ingest.cases"}),
                           "evaluation cases for models.tooling: off the runtime, on no face"),
    "cli.commands.model_rounds": (frozenset({"jobs.ingest.cases"}),
                                  "evaluation cases of two rounds: off the runtime, on no face"),
    "cli.commands.scan": (frozenset({"jobs.ingest.scan"}),
                          "`lungscreen scan`'s report (3.5 ms to import): off `import jobs`, "
                          "and a lazy face name `scan` would be its module's name"),
    "bench.release": (frozenset({"jobs.release.domain", "jobs.release.tables"}),
                      "times the release's steps: its domain and the parsed-base cache"),
    "bench.release_errors": (
        frozenset({"jobs.release.domain", "jobs.store.release", "jobs.ingest.privacy.age"}),
        "measures the release's error cell by cell: its domain, base cells and age codes"),
}


@cache
def _face(package: str) -> frozenset[str]:
    """The names a package's `__init__` exports (`__all__`); none for a module."""
    path = modules().get(package)
    if path is None or path.name != "__init__.py":
        return frozenset()
    for node in ast.parse(path.read_text(), str(path)).body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "__all__"):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def past_the_face(name: str, path: Path) -> set[str]:
    """The modules inside other jobs packages that `name` imports by their own path (or as a
    submodule of their package) instead of through a package face."""
    mods, found = modules(), set()
    own = next((u for u in FACE_USERS if _within(name, (u,))), name)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = [f"{node.module}.{a.name}" for a in node.names
                    if f"{node.module}.{a.name}" in mods and a.name not in _face(node.module)]
            targets = [node.module, *subs]
        else:
            continue
        for target in targets:
            if (target.startswith("jobs.") and not _within(target, (own,))
                    and mods.get(target, Path()).name != "__init__.py"
                    and target.count(".") >= 2):
                found.add(target)
    return found


def test_the_cli_benchmarks_and_service_reach_jobs_packages_through_their_faces():
    """Equality: a new deep import fails, and so does an exception no longer needed."""
    deep = {m: found for m, p in modules().items() if _within(m, FACE_USERS)
            and (found := past_the_face(m, p))}
    assert deep == {m: set(targets) for m, (targets, _) in PAST_THE_FACE.items()}
