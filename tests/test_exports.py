"""Each public module's ``__all__`` matches what it exports, and exports read as public.

Public modules are the packages ``actors``, ``supervisors`` and ``flowstone`` and every
submodule whose path has no ``_``-prefixed part. Every one of them has ``__all__``, except
flowstone's internal wings (``INTERNAL_WINGS``): packages whose names reach users through
``flowstone`` itself, which must then bind no public name of their own. A module that
cannot be imported fails the suite. Re-exported classes and functions must report a
public module as ``__module__`` (``actors.ActorRef``, not ``actors._ref.ActorRef``), so that
reprs, tracebacks and pickles show the public path.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest

PACKAGES = ("actors", "supervisors", "flowstone")
# Packages that organise flowstone's implementation: users import their names from
# `flowstone` (fs.Pipeline, fs.Runtime), never from the wing, so they curate no surface.
INTERNAL_WINGS = frozenset({"flowstone.definitions", "flowstone.engine", "flowstone.runtime"})
# Public modules that must exist (a rename or a lost __init__.py would drop one silently).
EXPECTED = frozenset(
    {
        "actors.abc",
        "actors.testing",
        "flowstone.cli",
        "flowstone.errors",
        "flowstone.io",
        "flowstone.partitions",
        "flowstone.partitions.mapping",
        "flowstone.storage",
        "flowstone.testing",
        *INTERNAL_WINGS,
    }
)


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while listing public modules")


def public_modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        module = importlib.import_module(package)  # a missing layer fails the collection
        names.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}.", onerror=_raise):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return names


def curated(name: str) -> ModuleType:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} is public (no _ in its path) but has no __all__"
    return module


def bound_names(statements: list[ast.stmt]) -> Iterator[tuple[str, bool]]:
    """(name, is_export) for every name bound at module level, also under if/try blocks.

    As in mypy's strict mode, an import exports a name only in the explicit re-export form
    ``from m import x as x``; every other binding statement exports what it defines.
    """
    for node in statements:
        if isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                yield bound, alias.asname is not None and alias.asname == alias.name
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name, True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        yield leaf.id, True
        elif isinstance(node, ast.If | ast.Try):
            blocks = [node.body, node.orelse]
            if isinstance(node, ast.Try):
                blocks += [node.finalbody, *(h.body for h in node.handlers)]
            for block in blocks:
                yield from bound_names(block)


def exported_names(module: ModuleType) -> set[str]:
    """Public names the module defines or explicitly re-exports, plus submodules and lazy
    exports (served by a module ``__getattr__``, PEP 562) that ``__all__`` lists."""
    bound = list(bound_names(ast.parse(inspect.getsource(module)).body))
    exported = {name for name, is_export in bound if is_export and not name.startswith("_")}
    submodules = {
        name
        for name in module.__all__
        if inspect.ismodule(obj := getattr(module, name, None))
        and obj.__name__ == f"{module.__name__}.{name}"
    }
    lazy = set()
    if "__getattr__" in vars(module):
        static = {name for name, _ in bound}
        lazy = {name for name in module.__all__ if name not in static and hasattr(module, name)}
    return exported | submodules | lazy


MODULES = public_modules()
CURATED = [name for name in MODULES if name not in INTERNAL_WINGS]


def test_every_expected_public_module_is_found() -> None:
    assert sorted(EXPECTED - set(MODULES)) == []


@pytest.mark.parametrize("name", sorted(INTERNAL_WINGS))
def test_internal_wings_export_nothing(name: str) -> None:
    """An internal wing binds no public name: a name there would be importable from two
    places, and users would come to depend on the wing's path."""
    module = importlib.import_module(name)
    assert not hasattr(module, "__all__"), f"{name} has __all__: remove it from INTERNAL_WINGS"
    bound = bound_names(ast.parse(inspect.getsource(module)).body)
    public = sorted(n for n, _ in bound if not n.startswith("_"))
    assert public == [], f"{name} is internal; export these from flowstone instead: {public}"


@pytest.mark.parametrize("name", CURATED)
def test_all_is_a_tuple_of_unique_names_that_exist(name: str) -> None:
    module = curated(name)
    names = module.__all__
    assert isinstance(names, tuple), f"{name}.__all__ must be a tuple"
    assert len(set(names)) == len(names), f"{name}.__all__ lists a name twice"
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ lists names it does not define: {missing}"


@pytest.mark.parametrize("name", CURATED)
def test_all_lists_exactly_the_public_names_the_module_exports(name: str) -> None:
    module = curated(name)
    exported = exported_names(module)
    listed = set(module.__all__)
    assert sorted(exported - listed) == [], f"public in {name} but missing from __all__"
    assert sorted(listed - exported) == [], f"in {name}.__all__ but not exported"


@pytest.mark.parametrize("name", CURATED)
def test_exported_classes_and_functions_report_a_public_module(name: str) -> None:
    module = curated(name)
    private = {
        export: obj.__module__
        for export in module.__all__
        if (inspect.isclass(obj := getattr(module, export)) or inspect.isfunction(obj))
        and any(part.startswith("_") for part in obj.__module__.split("."))
    }
    assert private == {}, (
        f"{name} re-exports objects whose __module__ is private; set their __module__ to "
        f"{name!r} in its __init__ (see actors/__init__.py)"
    )


def test_everything_actors_exports_reports_actors_as_its_module() -> None:
    import actors

    elsewhere = {
        name: obj.__module__
        for name in actors.__all__
        if (inspect.isclass(obj := getattr(actors, name)) or inspect.isfunction(obj))
        and obj.__module__ != "actors"
    }
    assert elsewhere == {}


def test_classes_not_designed_for_subclassing_are_final() -> None:
    import actors
    import actors.testing

    final = [
        actors.Caller,
        actors.Exit,
        actors.Down,
        actors.ActorStatistics,
        actors.MonotonicClock,
        actors.testing.MockClock,
        actors.testing.Sequencer,
    ]
    assert [c.__name__ for c in final if not getattr(c, "__final__", False)] == []
    open_for_subclassing = [actors.Actor, actors.ActorRef, actors.ActorError, actors.NoProc]
    assert [c.__name__ for c in open_for_subclassing if getattr(c, "__final__", False)] == []
