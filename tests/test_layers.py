"""The layers of ``tod_plugin`` (DESIGN.md, "Layout and layers"), read from its source with ``ast``.

Each rule takes every import of the package (:class:`Import`) and returns its violations; add a
rule to ``RULES`` (and a planted violation to ``PLANTED``) to check one more.
"""
import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import tod_plugin

PACKAGE = Path(tod_plugin.__file__).parent
ENGINE = ("tod_plugin.experiment", "tod_plugin.labeling")
LAZY = ("torchvision", "ray", "torch.distributed")  # imported inside a function, with a comment saying why


@dataclass(frozen=True)
class Import:
    """``importer`` loads ``target`` (a module of the package, resolved, or an outside name) at ``line``,
    inside a function when ``local``; ``commented``: the line carries a comment."""

    importer: str
    target: str
    line: int = 0
    local: bool = False
    commented: bool = False


def within(name, packages):
    return any(name == package or name.startswith(package + ".") for package in packages)


def module_files():
    """``{module name: file}`` of every module of the package (a package is its ``__init__.py``)."""
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _targets(node, importer, is_package, modules):
    """Modules ``node`` loads: the named module (the longest name that is a module of the package) and,
    for ``from P import name``, ``P.name`` when that is a module."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    for name in names:
        own = name
        while own and own not in modules:
            own = own.rpartition(".")[0]
        yield own or name


@functools.cache
def package_imports():
    """Every :class:`Import` of the package; loading ``a.b.c`` loads ``a`` and ``a.b`` too (their
    ``__init__``), counted unless they contain the importer."""
    modules = module_files()
    imports = []
    for importer, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        is_package = path.name == "__init__.py"
        for function_depth, node in _walk(ast.parse(source)):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            commented = "#" in lines[node.lineno - 1]
            for target in set(_targets(node, importer, is_package, modules)):
                parts = target.split(".")
                loaded = [".".join(parts[:i]) for i in range(1, len(parts))] if target in modules else []
                for name in [target, *loaded]:
                    if name in modules and (name == importer or within(importer, [name])):
                        continue  # itself, or a package the importer is part of
                    imports.append(Import(importer, name, node.lineno, function_depth > 0, commented))
    return tuple(imports)


def _walk(tree):
    """``(number of enclosing functions, node)`` for every node of ``tree``."""
    stack = [(0, tree)]
    while stack:
        depth, node = stack.pop()
        yield depth, node
        inner = depth + isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((inner, child) for child in ast.iter_child_nodes(node))


# --- rules: each returns a list of violations, empty when the rule holds ---------------------------

def no_module_cycles(imports):
    """No module imports one that imports it back, directly or through others (function-local
    imports count: they are the cycles that hide)."""
    graph = {}
    for i in imports:
        if i.target.startswith("tod_plugin"):
            graph.setdefault(i.importer, set()).add(i.target)
    return [" -> ".join(cycle) for cycle in _cycles(graph)]


def engine_imported_only_by_engine(imports):
    """Nothing below the engine (outside ``experiment`` and ``labeling``) imports it."""
    return [f"{i.importer}:{i.line} imports {i.target}" for i in imports
            if within(i.target, ENGINE) and not within(i.importer, ENGINE)]


def experiment_never_imports_labeling(imports):
    """The labeling project may use the run recipe (``experiment``); never the other way round."""
    return [f"{i.importer}:{i.line} imports {i.target}" for i in imports
            if within(i.importer, ["tod_plugin.experiment"]) and within(i.target, ["tod_plugin.labeling"])]


def imports_at_the_top(imports, scope=("tod_plugin",)):
    """Inside ``scope``, a function imports only a lazy optional engine (``LAZY``), with a comment."""
    return [f"{i.importer}:{i.line} imports {i.target} inside a function" for i in imports
            if i.local and within(i.importer, scope) and not (within(i.target, LAZY) and i.commented)]


#: DESIGN.md's layers, bottom first, by top-level unit of the package (a module or a sub-package): a
#: unit imports units of its own layer or below, never above.
LAYERS = (
    ("foundation", ("errors", "states", "atomic", "outputs", "validation", "pool", "scoring", "models", "data",
                    "defaults", "module_params", "lr_schedules", "distributed", "device", "precision", "augment",
                    "modal_compat")),
    ("training", ("batching", "inference", "hooks", "auxiliary", "training_calls", "net_interface", "estimator")),
    ("querying", ("pretext", "features", "strategies")),
    ("engine", ("experiment", "labeling")),
)


def unit(module):
    """The top-level unit of the package holding ``module`` (``tod_plugin.strategies.cod`` -> ``strategies``)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "tod_plugin" and len(parts) > 1 else None


def layer_of(name):
    return next((i for i, (_, units) in enumerate(LAYERS) if name in units), None)


def imports_go_down(imports):
    """A unit imports only units of its own layer or a lower one (``LAYERS``)."""
    return [f"{i.importer}:{i.line} ({LAYERS[layer_of(unit(i.importer))][0]}) imports {i.target} "
            f"({LAYERS[layer_of(unit(i.target))][0]})" for i in imports
            if unit(i.importer) and unit(i.target) and layer_of(unit(i.importer)) is not None
            and layer_of(unit(i.target)) is not None and layer_of(unit(i.target)) > layer_of(unit(i.importer))]


def no_package_cycles(imports):
    """No top-level unit (module or sub-package) imports one that imports it back."""
    graph = {}
    for i in imports:
        a, b = unit(i.importer), unit(i.target)
        if a and b and a != b:
            graph.setdefault(a, set()).add(b)
    return [" -> ".join(cycle) for cycle in _cycles(graph)]


RULES = (
    no_module_cycles,
    no_package_cycles,
    imports_go_down,
    engine_imported_only_by_engine,
    experiment_never_imports_labeling,
    imports_at_the_top,
)


def test_every_unit_has_a_layer():
    units = {unit(name) for name in module_files()} - {None}
    assert {name for name in units if layer_of(name) is None} == set()


def _rule_name(rule):
    return getattr(rule, "func", rule).__name__


@pytest.mark.parametrize("rule", RULES, ids=_rule_name)
def test_the_package_keeps_the_rule(rule):
    assert rule(package_imports()) == []


def test_the_reader_sees_top_level_lazy_and_package_imports():
    seen = {(i.importer, i.target, i.local, i.commented) for i in package_imports()}
    assert ("tod_plugin.experiment.backends.sequential", "tod_plugin.experiment.loop", False, False) in seen
    assert ("tod_plugin.experiment.backends.ray", "ray", True, True) in seen  # the lazy Ray import
    assert ("tod_plugin.labeling.model", "tod_plugin.experiment", False, False) in seen  # its __init__ runs too


def test_every_package_is_installed():
    """pyproject.toml lists the packages one by one: a new sub-package must be added there too."""
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(tod_plugin[\w.]*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    packages = {name for name, path in module_files().items() if path.name == "__init__.py"}
    assert packages - listed == set()


PLANTED = {  # for each rule, imports that break it
    "no_module_cycles": [Import("tod_plugin.a", "tod_plugin.b"), Import("tod_plugin.b", "tod_plugin.c", local=True),
                         Import("tod_plugin.c", "tod_plugin.a")],
    "engine_imported_only_by_engine": [Import("tod_plugin.strategies.pt4al", "tod_plugin.experiment.store")],
    "experiment_never_imports_labeling": [Import("tod_plugin.experiment.loop", "tod_plugin.labeling.model")],
    "no_package_cycles": [Import("tod_plugin.hooks.ema", "tod_plugin.estimator"),
                          Import("tod_plugin.estimator", "tod_plugin.hooks")],
    "imports_go_down": [Import("tod_plugin.strategies.pt4al", "tod_plugin.experiment.store"),
                        Import("tod_plugin.pool", "tod_plugin.inference")],
    "imports_at_the_top": [Import("tod_plugin.experiment.loop", "tod_plugin.experiment.store", local=True),
                           Import("tod_plugin.labeling.status", "matplotlib", local=True, commented=True),
                           Import("tod_plugin.experiment.backends.ray", "ray", local=True)],
}


@pytest.mark.parametrize("rule", RULES, ids=_rule_name)
def test_the_rule_finds_a_planted_violation(rule):
    planted = PLANTED[_rule_name(rule)]
    cycles = ("no_module_cycles", "no_package_cycles")
    assert len(rule(planted)) == (1 if _rule_name(rule) in cycles else len(planted))


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
