"""The house's shape: projector_tools/ stays a small number of rooms, with no
import cycle, no long module or function, and one home for each thing that
used to be copied (the PCA, the program's name, reading .npy, reading CSV,
t-SNE).

Read from the source with ``ast`` (nothing is imported), so it is fast and
names the offending modules and lines.
"""

from __future__ import annotations

import ast
import os
from functools import cache

import pytest

from tests.helpers import REPO_ROOT

PKG = "projector_tools"
PKG_DIR = os.path.join(REPO_ROOT, PKG)

MAX_TOP_LEVEL = 12
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@cache
def modules() -> dict[str, str]:
    """Dotted module name -> path, every ``.py`` of the package (a package is its ``__init__.py``)."""
    found = {}
    for folder, dirs, files in os.walk(PKG_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(folder, REPO_ROOT).split(os.sep)
        for name in sorted(files):
            if name.endswith(".py"):
                parts = rel if name == "__init__.py" else rel + [name[:-3]]
                found[".".join(parts)] = os.path.join(folder, name)
    return found


@cache
def tree(module: str) -> ast.Module:
    with open(modules()[module], encoding="utf-8") as f:
        return ast.parse(f.read(), filename=modules()[module])


def where(module: str, node: ast.AST) -> str:
    return f"{os.path.relpath(modules()[module], REPO_ROOT)}:{node.lineno}"


def imported_modules(module: str) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in it (module
    level, inside functions, under ``if TYPE_CHECKING``): ``from pkg import name``
    is ``pkg.name`` where that is a module, else ``pkg``."""
    known = modules()
    is_package = modules()[module].endswith("__init__.py")
    out = set()
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package holding this module
                parts = module.split(".")
                anchor = parts[:len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if base != PKG and not base.startswith(PKG + "."):
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in known else base)
    out.discard(module)
    return {m for m in out if m in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` through each group of mutually importing
    modules (each strongly connected component of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [cycle_in(graph, group) for group in groups]


def cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``group`` (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle in {group}")


def docstring_nodes(module: str) -> set[int]:
    """ids of the docstring constants (module, class, function), which are prose."""
    ids = set()
    for node in ast.walk(tree(module)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def calls(name: str, owners: tuple[str, ...] | None) -> list[str]:
    """Where the package calls ``owner.name(...)`` for an owner in ``owners``
    (``"np.linalg"``: as written; None: any owner), or a bare ``name(...)`` in a
    module that did ``from <owner> import name``."""
    found = []
    for module in modules():
        imported_bare = any(
            isinstance(n, ast.ImportFrom) and (owners is None or n.module in owners)
            and any(a.name == name and a.asname is None for a in n.names)
            for n in ast.walk(tree(module)))
        for node in ast.walk(tree(module)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == name and imported_bare:
                found.append(where(module, node))
            elif isinstance(func, ast.Attribute) and func.attr == name and (
                    owners is None or ast.unparse(func.value) in owners):
                found.append(where(module, node))
    return found


# -- the rooms -----------------------------------------------------------------

def test_at_most_twelve_top_level_modules_or_packages():
    entries = sorted(
        name for name in os.listdir(PKG_DIR)
        if name.endswith(".py")
        or os.path.isfile(os.path.join(PKG_DIR, name, "__init__.py"))
    )
    assert len(entries) <= MAX_TOP_LEVEL, f"{len(entries)} top-level entries in {PKG}/: {entries}"


def test_no_import_cycle():
    graph = {m: imported_modules(m) for m in modules()}
    found = [" -> ".join(cycle) for cycle in cycles(graph)]
    for cycle in found:
        print(f"import cycle: {cycle}")
    assert not found, "import cycles:\n" + "\n".join(found)


def test_no_module_over_400_lines():
    long = {}
    for module, path in modules().items():
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_MODULE_LINES:
            long[os.path.relpath(path, REPO_ROOT)] = n
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_over_60_lines():
    long = {}
    for module in modules():
        for node in ast.walk(tree(module)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1  # the def line to the end, docstring included
                if n > MAX_FUNCTION_LINES:
                    long[f"{where(module, node)} {node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# -- one home each -------------------------------------------------------------

def test_one_pca():
    """The one PCA is the package's one matrix decomposition (an SVD, or the
    eigenvectors of a covariance)."""
    found = calls("svd", None) + calls("eigh", None) + calls("eig", None)
    assert len(found) == 1, f"{len(found)} SVD/eigen decompositions (one PCA expected): {found}"


def program_name_strings(wanted) -> list[str]:
    """Where a string (not a docstring) of the package satisfies ``wanted``;
    an f-string's literal parts count."""
    found = []
    for module in modules():
        prose = docstring_nodes(module)
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in prose and wanted(node.value):
                found.append(where(module, node))
    return found


def test_one_program_name():
    """The literal ``"projector-tools"`` is written once: ``process.voice.PROG``."""
    named = program_name_strings(lambda text: text == "projector-tools")
    voice = f"{PKG}/process/voice.py"
    assert len(named) == 1 and named[0].startswith(voice + ":"), (
        f'"projector-tools" written {len(named)} times (once expected, PROG in {voice}): {named}')


def test_no_spelled_out_prefix():
    """No string spells the prefix ``projector-tools:`` itself (docstrings aside):
    lines take it from ``process.voice``."""
    prefixed = program_name_strings(lambda text: "projector-tools:" in text)
    assert not prefixed, f'"projector-tools:" spelled out instead of voice.PROG: {prefixed}'


@pytest.mark.parametrize("owners,name", [(("np", "numpy"), "load"), (("csv",), "reader")],
                         ids=["np.load", "csv.reader"])
def test_one_reader(owners, name):
    found = calls(name, owners)
    assert len(found) == 1, f"{len(found)} calls of {owners[0]}.{name}( (one expected): {found}"


def opentsne_importers() -> list[str]:
    """Modules that import openTSNE: ``import``/``from`` statements, and a call
    naming it (``importlib.import_module("openTSNE")``, ``require("openTSNE")``)."""
    found = []
    for module in modules():
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Call):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            else:
                continue
            if any(n == "openTSNE" or n.startswith("openTSNE.") for n in names):
                found.append(module)
                break
    return found


def handwritten_tsne() -> list[str]:
    """Functions named for t-SNE that iterate themselves (an optimiser of their
    own, not a call into the one that openTSNE provides)."""
    found = []
    for module in modules():
        for node in ast.walk(tree(module)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "tsne" in node.name.lower() \
                    and any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(node)):
                found.append(f"{where(module, node)} {node.name}")
    return found


def test_one_tsne():
    """One t-SNE: openTSNE, imported by one module only, and no t-SNE of our own."""
    importers = opentsne_importers()
    assert len(importers) == 1, f"openTSNE imported in {len(importers)} modules (one expected): {importers}"
    own = handwritten_tsne()
    assert not own, f"t-SNE implemented again beside openTSNE ({importers[0]}): {own}"
