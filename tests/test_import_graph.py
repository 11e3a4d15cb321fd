"""The package's imports run one way, down the layers, and never in a circle (issue 21).

Read with ``ast`` from the source (nothing is imported): every ``import`` and ``from … import`` in
``src/impactreport``, at the top of a module or inside a function, relative imports resolved. Imports
under ``if TYPE_CHECKING:`` are left out: they never run (a type named in an annotation may come from
above). A name imported from a package is followed to the module that defines it when the package's
``__init__`` only re-exports it (``from impactreport.metrics import text_metrics`` is an import of
``impactreport.metrics.posts``), so a package's ``__init__`` re-exporting its modules is no circle with
them; names a lazy ``__init__`` declares under ``TYPE_CHECKING`` are followed the same way.

A failure names the importing module and line, and what it imports: move the code to the layer it
belongs to (or the shared part down), rather than adding to :data:`KNOWN`.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import impactreport

SRC = Path(impactreport.__file__).parent
ROOT = "impactreport"

#: The layers, top first: a module may import its own layer's modules and any layer below, never one
#: above. A layer entry is a module or package directly under ``impactreport`` (``"<root>"``: the
#: package's own ``__init__``).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("render",),
    ("pipeline", "report", "outputs", "counting", "comparison"),
    ("figures",),
    ("analyses", "history", "stats", "community", "citation"),
    ("load", "identities", "demo"),
    ("metrics",),
    (
        "people",
        "settings",
        "timefmt",
        "schema",
        "layout",
        "files",
        "capped",
        "snapshots",
        "project",
        "labels",
        "sources",
        "errors",
        "text_safety",
        "authors",
        "yaml_bounded",
        "cache_home",
        "memo",
        "<root>",
    ),
)
#: Beside the layers: writes the snapshot store. It imports only the bottom layer and itself; only the
#: CLI imports it.
FETCH = "fetch"
FETCH_IMPORTED_BY = frozenset({"cli", FETCH})

#: Imports against the layer order that exist today, each to be removed by the change named, not added
#: to. (importer, imported module)
KNOWN: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = [ROOT, *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def _imports(module: str, *, typing: bool = False) -> tuple[tuple[str, str | None, int], ...]:
    """(imported module or package, name imported from it or None, line) of every import in ``module``;
    those under ``if TYPE_CHECKING:`` only with ``typing``."""
    found: list[tuple[str, str | None, int]] = []
    package = module if _is_package(module) else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child) and not typing:
                for other in child.orelse:
                    visit_one(other)
            else:
                visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.extend((base, alias.name, node.lineno) for alias in node.names)
        visit(node)

    try:
        text = MODULES[module].read_text(encoding="utf-8")
    except FileNotFoundError:  # removed since the listing (a module being moved while the tests run)
        return ()
    visit(ast.parse(text))
    return tuple(found)


def _target(base: str, name: str | None, seen: frozenset[tuple[str, str]] = frozenset()) -> str | None:
    """The module an import reaches: a submodule by that name, else the module defining a name its
    package's ``__init__`` re-exports, else the module or package itself (None outside the package)."""
    if name is not None and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    while base and base not in MODULES:
        base = base.rpartition(".")[0]
    if not base.startswith(ROOT):
        return None
    if name is not None and _is_package(base) and (base, name) not in seen:
        for source, imported, _ in _imports(base, typing=True):
            if imported == name:
                found = _target(source, imported, seen | {(base, name)})
                if found is not None and found != base:
                    return found
    return base


@cache
def graph() -> dict[str, dict[str, int]]:
    """Importing module → {imported module: first line}, within the package."""
    edges: dict[str, dict[str, int]] = {}
    for module in MODULES:
        for base, name, line in _imports(module):
            target = _target(base, name)
            if target is not None and target != module:
                edges.setdefault(module, {}).setdefault(target, line)
    return edges


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _allowed(importer: str, imported: str) -> bool:
    upper, lower = _component(importer), _component(imported)
    if upper == lower:
        return True
    if lower == FETCH:
        return upper in FETCH_IMPORTED_BY
    if upper == FETCH:
        return lower in LAYERS[-1]
    if upper not in RANK or lower not in RANK:
        return True  # test_every_module_has_a_layer names it
    return RANK[upper] <= RANK[lower]


def _cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in MODULES:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, {})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer() -> None:
    missing = sorted({_component(module) for module in MODULES} - set(RANK) - {FETCH})
    assert not missing, f"not in LAYERS (add each where it belongs): {missing}"


def test_the_graph_is_read() -> None:
    """The reader finds imports of every kind (guards the checks below against reading nothing)."""
    edges = graph()
    assert "impactreport.metrics.posts" in edges["impactreport.load.dataset"]  # via a re-export
    assert "impactreport.pipeline" in edges["impactreport.cli.summary"]  # top of the module
    assert "impactreport.report.assemble" in edges["impactreport.render"]  # in a function, lazy export
    assert "impactreport.cli.console" in edges["impactreport.cli.fetch_options"]  # relative


def test_no_import_runs_against_the_layers() -> None:
    edges = graph()
    wrong = sorted(
        f"{importer}:{line} imports {imported}"
        for importer, targets in edges.items()
        for imported, line in targets.items()
        if not _allowed(importer, imported) and (importer, imported) not in KNOWN
    )
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_known_exceptions_still_exist() -> None:
    """A fixed exception leaves :data:`KNOWN`, so it cannot come back unnoticed."""
    edges = graph()
    gone = sorted(f"{a} → {b}" for a, b in KNOWN if b not in edges.get(a, {}) or _allowed(a, b))
    assert not gone, "no longer imported (remove from KNOWN):\n" + "\n".join(gone)


def test_no_import_circle() -> None:
    cycles = _cycles(graph())
    assert not cycles, "modules importing each other in a circle:\n" + "\n".join(map(" ↔ ".join, cycles))


#: Issue 21: a module past this many lines holds more than one job; split it by job.
MAX_MODULE_LINES = 600


def test_no_module_is_past_600_lines() -> None:
    long = {
        str(path.relative_to(SRC)): lines
        for path in SRC.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split each by job): {long}"
