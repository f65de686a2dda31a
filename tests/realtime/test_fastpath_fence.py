"""The fence around the fast path: only `realtime/fastpath/` touches the internals of uvicorn,
Engine.IO, python-socketio and websockets, so that the start-up probe sees everything that can
break on their next release. Read from the source, as a reviewer would."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import accolade

SRC = Path(accolade.__file__).resolve().parent
FENCED = SRC / "realtime" / "fastpath"
LIBRARIES = ("uvicorn", "engineio", "socketio", "websockets")
# Public modules of those libraries code outside the fence may import.
PUBLIC_MODULES = {"uvicorn", "socketio", "engineio", "websockets", "socketio.exceptions"}


def _outside_the_fence() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if FENCED not in p.parents)


def _library_names(tree: ast.Module) -> set[str]:
    """Names bound to one of the libraries (or something from them) by this module's imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _trespasses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    library = _library_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for module in modules:
                if module.split(".")[0] in LIBRARIES and module not in PUBLIC_MODULES:
                    found.append(f"{where} imports {module}")
        elif isinstance(node, ast.Attribute):  # `x._y`, `x.__self__`, `x.__class__ = ...`
            if node.attr in ("__self__", "__class__") and isinstance(node.ctx, ast.Store):
                found.append(f"{where} assigns {node.attr}")
            elif node.attr == "__self__":
                found.append(f"{where} reads a bound method's __self__")
            elif _private(node.attr):
                owner = node.value
                is_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
                if not is_self:
                    found.append(f"{where} reads ._{node.attr.lstrip('_')} of another object")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.args[1] if node.func.id in ("getattr", "setattr") and node.args else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                if name.value == "__self__":
                    found.append(f"{where} reads a bound method's __self__")
                elif _private(name.value):
                    found.append(f"{where} {node.func.id}s {name.value}")
        elif isinstance(node, ast.ClassDef):
            bases = {b.value.id for b in node.bases if isinstance(b, ast.Attribute)} | {
                b.id for b in node.bases if isinstance(b, ast.Name)
            }
            if bases & library:
                for name in _private_overrides(path, node):
                    found.append(f"{where} overrides the private {name}")
    return found


def _private_overrides(path: Path, node: ast.ClassDef) -> list[str]:
    """Private methods this class defines that one of the libraries' base classes has too."""
    module = importlib.import_module(
        "accolade." + ".".join(path.relative_to(SRC).with_suffix("").parts)
    )
    cls = getattr(module, node.name)
    library_bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] in LIBRARIES]
    return [
        item.name
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
        and _private(item.name)
        and any(item.name in vars(base) for base in library_bases)
    ]


def test_only_the_fast_path_package_touches_the_libraries_internals() -> None:
    trespasses = [t for path in _outside_the_fence() for t in _trespasses(path)]
    assert trespasses == []


def test_the_fence_sees_what_the_fast_path_package_does() -> None:
    """The check is able to fail: run on the package itself, it finds its private uses."""
    found = [t for path in sorted(FENCED.glob("*.py")) for t in _trespasses(path)]
    assert any("overrides the private _handle_eio_message" in t for t in found)
    assert any("reads a bound method's __self__" in t for t in found)
    assert any("assigns __class__" in t for t in found)
