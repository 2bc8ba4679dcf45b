"""The layer order: actors <- supervisors <- flowstone, checked on every module's imports;
inside flowstone, the order of its wings.

Imports are read with ``ast`` (including those under ``if TYPE_CHECKING:`` and inside
functions: a lazy import is still a dependency). A lower layer never imports a higher one,
and a higher layer uses only the public modules of a lower one (no ``_``-prefixed part).
Inside flowstone, definitions never import the engine, the runtime or the CLI; storage and
io never import them either; the engine never imports the runtime or the CLI.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("actors", "supervisors", "flowstone")  # each may import only those before it
RAY_MODULE = "actors._backends._ray"  # the one module of actors allowed to import ray


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported, and whether at module level."""

    importer: str
    target: str
    line: int
    top_level: bool
    plain: bool = False  # `import x` rather than `from x import y`

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The absolute module names an ``import from`` statement depends on."""
    if node.level == 0:
        base = node.module or ""
    else:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, node.module] if node.module else package)
    # `from pkg import name` may import the submodule pkg.name; count both.
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def imports_of(path: Path) -> list[Import]:
    importer = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level_nodes = {id(node) for node in tree.body}
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = resolve(importer, is_package, node)
        else:
            continue
        top = id(node) in top_level_nodes
        plain = isinstance(node, ast.Import)
        found.extend(Import(importer, target, node.lineno, top, plain) for target in targets)
    return found


@functools.cache  # flowstone is large; each test reads the same imports
def all_imports(package: str) -> list[Import]:
    """Every import in ``package`` (a dotted name: ``flowstone.engine``)."""
    directory = ROOT.joinpath(*package.split("."))
    assert directory.is_dir(), f"package {package!r} is missing: {directory} does not exist"
    paths = sorted(directory.rglob("*.py"))
    assert paths, f"package {package!r} has no modules in {directory}"
    return [i for path in paths for i in imports_of(path)]


def top(target: str) -> str:
    return target.split(".")[0]


def is_private(target: str) -> bool:
    return any(part.startswith("_") for part in target.split("."))


@pytest.mark.parametrize("package", LAYERS)
def test_no_layer_imports_a_layer_above_it(package: str) -> None:
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    violations = [str(i) for i in all_imports(package) if top(i.target) in above]
    assert violations == [], (
        f"{package} must not import {sorted(above)} (layer order: {' <- '.join(LAYERS)})"
    )


@pytest.mark.parametrize("package", LAYERS[1:])
def test_a_layer_uses_only_the_public_modules_of_the_layers_below(package: str) -> None:
    below = set(LAYERS[: LAYERS.index(package)])
    violations = [
        str(i) for i in all_imports(package) if top(i.target) in below and is_private(i.target)
    ]
    assert violations == [], (
        f"{package} reaches into private modules of {sorted(below)}; use their public names "
        "(the package, its abc or testing modules) or ask for a public addition"
    )


# Wing of flowstone -> the wings it must never import (nor any of their modules).
_ABOVE_ENGINE = ("flowstone.approvals", "flowstone.runtime", "flowstone.cli")
WING_RULES = {
    "flowstone.definitions": ("flowstone.engine", *_ABOVE_ENGINE),
    "flowstone.storage": ("flowstone.engine", *_ABOVE_ENGINE),
    "flowstone.io": ("flowstone.engine", *_ABOVE_ENGINE),
    "flowstone.engine": _ABOVE_ENGINE,
    # A new wing may use definitions, partitions, storage, io and the engine; only the
    # runtime and the CLI sit above it.
    "flowstone.approvals": ("flowstone.runtime", "flowstone.cli"),
}


def is_within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


@pytest.mark.parametrize("wing", WING_RULES)
def test_a_wing_never_imports_the_wings_above_it(wing: str) -> None:
    forbidden = WING_RULES[wing]
    violations = [
        str(i) for i in all_imports(wing) if any(is_within(i.target, above) for above in forbidden)
    ]
    assert violations == [], f"{wing} must not import {list(forbidden)}"


@pytest.mark.parametrize("wing", WING_RULES)
def test_a_wing_never_imports_the_flowstone_package_itself(wing: str) -> None:
    """``import flowstone`` (or ``from flowstone import X`` of a name, not a module) would
    load every wing, the runtime and the CLI included, through flowstone/__init__.py."""
    modules = {path.stem for path in (ROOT / "flowstone").iterdir()} - {"__init__"}
    violations = []
    for i in all_imports(wing):
        if i.target == "flowstone":
            if i.plain:
                violations.append(str(i))
            continue  # also recorded with each `from flowstone import name`, checked below
        if is_within(i.target, "flowstone") and i.target.split(".")[1] not in modules:
            violations.append(str(i))
    assert violations == [], f"{wing} must import flowstone's modules, not the package"


def test_the_wing_rules_name_packages_that_exist() -> None:
    for wing in {*WING_RULES, *(w for ws in WING_RULES.values() for w in ws)}:
        assert ROOT.joinpath(*wing.split("."), "__init__.py").is_file(), wing


def test_ray_is_imported_lazily_and_only_by_the_ray_backend_module() -> None:
    ray_imports = [i for i in all_imports("actors") if top(i.target) == "ray"]
    misplaced = [str(i) for i in ray_imports if i.importer != RAY_MODULE or i.top_level]
    assert misplaced == [], f"in actors, only {RAY_MODULE} may import ray, inside functions"


def test_importing_the_actors_layer_loads_neither_ray_nor_the_layers_above() -> None:
    probe = (
        "import sys, actors, actors.abc, actors.testing; "
        "print(sorted(m for m in ('ray', 'supervisors', 'flowstone') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
