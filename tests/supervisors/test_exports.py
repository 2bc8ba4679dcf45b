"""The public surface: a curated ``__all__``, clean module names, the layering."""

from __future__ import annotations

import ast
import inspect
import pathlib

import supervisors

PACKAGE = pathlib.Path(supervisors.__file__).parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(supervisors) if not name.startswith("_")}
    assert isinstance(supervisors.__all__, tuple)
    assert set(supervisors.__all__) == public
    assert list(supervisors.__all__) == sorted(supervisors.__all__)


def test_public_names_read_as_members_of_the_package() -> None:
    for name in supervisors.__all__:
        obj = getattr(supervisors, name)
        assert inspect.isclass(obj) or inspect.isfunction(obj)
        assert obj.__module__ == "supervisors", name
        assert obj.__doc__, f"{name} has no docstring"


def test_implementation_modules_are_private() -> None:
    modules = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert modules
    assert all(name.startswith("_") for name in modules)


def test_supervisors_uses_only_the_public_api_of_actors_and_nothing_of_flowstone() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith("flowstone"), f"{path.name} imports {name}"
                assert not name.startswith("actors._"), f"{path.name} imports {name}"
