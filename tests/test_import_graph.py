"""Package structure: every module imports, no import cycles (static graph over the package folders,
function-level imports included), and argparse only in command-line modules."""
from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: import name -> folder (the folder names differ from the import names for export/ and training/)
PACKAGES = {"sagasr_stream": ROOT / "sagasr_stream", "sagasr_export": ROOT / "export", "sagasr_training": ROOT / "training"}
#: modules that parse command lines; no library module may import argparse
CLI_MODULES = {
    "sagasr_stream.cli", "sagasr_stream.cli_common", "sagasr_stream.live_cli", "sagasr_stream.distributed.cli", "sagasr_stream.evaluation.cli",
    "sagasr_export.cli", "sagasr_training.cli", "sagasr_training.corpus.cli",
}


def package_modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package __init__) for every module of the three packages."""
    modules = {}
    for package, folder in PACKAGES.items():
        for file in sorted(folder.rglob("*.py")):
            parts = [package, *file.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (file, is_package)
    return modules


def imported_modules(name: str, file: Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its source (top level or inside functions)."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported_modules(name, file, is_pkg, set(modules)) for name, (file, is_pkg) in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_relative_and_function_level_imports():
    graph = import_graph()
    assert "sagasr_stream.errors" in graph["sagasr_stream.bundle"]  # from .errors import ...
    assert "sagasr_stream.evaluation.cli" in graph["sagasr_stream.cli"]  # imported inside a function
    assert "sagasr_stream.graphs" in graph["sagasr_export.exporter"]  # across packages


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_argparse_only_in_command_line_modules():
    modules = package_modules()
    users = {name for name, (file, _) in modules.items() if "argparse" in _imported_names(file)}
    assert users <= CLI_MODULES, sorted(users - CLI_MODULES)


def _imported_names(file: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules_of(package: str) -> list[str]:
    """The package's modules, without ``__main__`` (importing it runs the command)."""
    return sorted(name for name in package_modules()
                  if (name == package or name.startswith(package + ".")) and not name.endswith(".__main__"))


@pytest.mark.parametrize("module", _modules_of("sagasr_stream"))
def test_every_runtime_module_imports(module):
    importlib.import_module(module)


def test_the_runtime_does_not_import_torch():
    assert not any("torch" in _imported_names(file) for name, (file, _) in package_modules().items()
                   if name.startswith("sagasr_stream") and name != "sagasr_stream.backends.torchscript")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None or importlib.util.find_spec("stable_audio_tools") is None,
                    reason="export and training need torch and stable-audio-tools (export/install.sh)")
@pytest.mark.parametrize("package", ["sagasr_export", "sagasr_training"])
def test_every_export_and_training_module_imports(package):
    origin = Path(importlib.util.find_spec(package).origin).resolve()
    if not origin.is_relative_to(PACKAGES[package]):  # an editable install of another checkout
        pytest.skip(f"{package} is imported from {origin.parent}, not from this checkout's {PACKAGES[package]}")
    for module in _modules_of(package):
        importlib.import_module(module)
