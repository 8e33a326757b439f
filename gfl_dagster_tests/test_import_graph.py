"""The folders' import graph, read from the source (ast): shared machinery never imports a domain, and no
folder cycle. Counted are all imports, at any depth of a module (a function's lazy import too) and
type-only ones: a shared folder that needs a domain's type needs the domain."""

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import gfl_dagster

PACKAGE = Path(gfl_dagster.__file__).parent
# Shared machinery, and the project-wide modules beside the folders that are shared too.
SHARED = {"db", "stores", "change_capture", "clients", "resources", "generation", "spec", "settings",
          "dagster_instance", "toml_reader"}
DOMAINS = {"listings", "reviews", "search", "ads", "feedback", "recommendations"}


def _node(parts: tuple[str, ...]) -> str:
    """A module's node in the graph: its top folder, or the top-level module itself (`settings`, `spec`)."""
    return parts[0].removesuffix(".py")


def _imported(module: Path, tree: ast.AST) -> set[str]:
    """The project modules `module` imports, as dotted paths inside the package."""
    here = module.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = ".".join(("gfl_dagster",) + here[:len(here) - node.level])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            # `from gfl_dagster import settings` imports the module `settings`
            found |= {f"{name}.{alias.name}" if name == "gfl_dagster" else name for alias in node.names}
    return found


def _project_imports(module: Path) -> set[str]:
    """The runtime package's modules `module` imports, as dotted paths inside the package."""
    found = _imported(module, ast.parse(module.read_text(), str(module)))
    return {name.removeprefix("gfl_dagster.") for name in found if name.startswith("gfl_dagster.")}


def folder_graph() -> dict[str, dict[str, set[str]]]:
    """{folder: {imported folder: the files that import it}} over every module of the package."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module in sorted(PACKAGE.rglob("*.py")):
        source = _node(module.relative_to(PACKAGE).parts)
        if source == "__init__":
            continue
        for name in _project_imports(module):
            target = _node(tuple(name.split(".")))
            if target != source:
                graph[source][target].add(str(module.relative_to(PACKAGE)))
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one folder (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import():
    graph = folder_graph()
    assert "stores" in graph["clients"], "a module-level `from gfl_dagster.stores... import`"
    assert "settings" in graph["resources"], "`from gfl_dagster import settings`"
    assert "definitions" not in graph.get("__init__", {}), "the package's own __init__ is no node"


def test_shared_folders_never_import_a_domain():
    graph = folder_graph()
    leaks = {f"{source} -> {target} ({', '.join(sorted(files))})"
             for source in SHARED for target, files in graph.get(source, {}).items() if target in DOMAINS}
    assert not leaks, "shared machinery imports a domain; hand it the domain's spec instead:\n" + "\n".join(
        sorted(leaks))


def test_no_folder_import_cycle():
    graph = folder_graph()
    found = cycles(graph)
    detail = [f"{' <-> '.join(cycle)}: " + "; ".join(
        f"{a} -> {b} ({', '.join(sorted(graph[a][b]))})" for a in cycle for b in cycle if b in graph.get(a, {}))
        for cycle in found]
    assert not found, "folders that import each other:\n" + "\n".join(detail)


def test_the_runtime_package_never_imports_the_bench_package():
    """Benchmarks, evaluation sets and the fault proxy live in gfl_dagster_bench; the runtime reaches them
    only through `gfl bench`, a deferred command named by a string."""
    leaks = {str(module.relative_to(PACKAGE)) for module in PACKAGE.rglob("*.py")
             if any(name.split(".")[0] in ("gfl_dagster_bench", "gfl_dagster_tests")
                    for name in _imported(module, ast.parse(module.read_text(), str(module))))}
    assert not leaks, f"runtime modules import benchmark or test code: {sorted(leaks)}"


def test_loading_the_definitions_loads_no_benchmark_code():
    """What a code server or `gfl up` loads: the definitions, and nothing of gfl_dagster_bench or the tests."""
    probe = ("import sys, gfl_dagster.definitions, gfl_dagster.cli.main; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gfl_dagster_bench', 'gfl_dagster_tests')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
    # The probe can see the bench package: the empty list above is the runtime's doing, not a missing module.
    found = subprocess.run([sys.executable, "-c", "import gfl_dagster_bench.definitions, sys; "
                            "print('gfl_dagster_bench.freshness_probe' in sys.modules)"],
                           capture_output=True, text=True, timeout=300, cwd=PACKAGE.parent)
    assert found.stdout.strip() == "True", found.stderr[-2000:]


def test_cycles_are_found_where_they_are():
    assert cycles({"a": {"b": set()}, "b": {"c": set()}, "c": {"a": set()}, "d": {"a": set()}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": set()}, "b": {}}) == []
