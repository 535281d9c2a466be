"""The architecture's import contracts: dependencies point one way, no module imports itself in a
cycle, and importing any module (the actors included) opens no connection."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("finhub", "providers", "actors")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (lazy imports in functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES)
    return found - {name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer, forbidden", [
    ("providers", ("finhub.jobs", "finhub.runtime", "finhub.storage", "finhub.planner", "actors")),
    ("finhub.validation", ("finhub.storage", "providers", "finhub.runtime", "finhub.jobs")),
    ("finhub.storage", ("finhub.jobs", "actors", "providers", "finhub.runtime", "finhub.planner")),
    ("finhub.model", ("finhub", "providers", "actors")),
    ("finhub.config", ("finhub.jobs", "finhub.runtime", "finhub.storage", "finhub.planner", "providers", "actors")),
    ("finhub.planner", ("finhub.jobs", "finhub.runtime", "finhub.storage", "actors")),
    ("finhub.jobs", ("actors", "finhub.runtime.driver", "finhub.commands")),
])
def test_a_layer_never_imports_the_layers_above_it(layer, forbidden):
    offending = sorted((m, i) for m, imports in GRAPH.items() if _under(m, layer)
                       for i in imports if _under(i, *forbidden))
    assert offending == []


def test_no_module_imports_itself_through_others():
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [module, target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    # A package's __init__ re-exporting its own submodules is not a cycle of the architecture.
    real = [c for c in cycles if not all(_under(m, c[0].rpartition(".")[0] or c[0]) for m in c)]
    assert real == []


def test_importing_any_module_opens_no_connection(tmp_path):
    script = f"""
import importlib, json, socket
attempts = []
def refuse(self, address):
    attempts.append(str(address))
    raise OSError("no connection at import time")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
for name in {sorted(MODULES)!r}:
    if not name.endswith("__main__"):
        importlib.import_module(name)
print(json.dumps(attempts))
"""
    env = {"PATH": "/usr/bin:/bin", "FINHUB_DATA_DIR": str(tmp_path), "FINHUB_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").touch()
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
