"""Package structure: every module imports, no import cycles (static graph over the package folders,
function-level imports included), and argparse only in command-line modules."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: import name -> folder (the folder names differ from the import names for export/ and training/)
PACKAGES = {"sagasr_stream": ROOT / "sagasr_stream", "sagasr_export": ROOT / "export", "sagasr_training": ROOT / "training"}
#: packages and modules that parse command lines; no library module may import argparse
CLI_PACKAGES = ("sagasr_stream.cli",)
CLI_MODULES = {"sagasr_export.cli", "sagasr_export.optimize_cli", "sagasr_training.cli", "sagasr_training.corpus.cli"}


def is_cli_module(name: str) -> bool:
    """Command-line code: the CLI packages and modules, and every ``__main__``."""
    return (name in CLI_MODULES or name.endswith(".__main__")
            or any(name == p or name.startswith(p + ".") for p in CLI_PACKAGES))


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
    assert "sagasr_stream.cli.eval" in graph["sagasr_stream.cli.main"]  # imported inside a function
    assert "sagasr_stream.graphs" in graph["sagasr_export.exporter"]  # across packages


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_argparse_only_in_command_line_modules():
    modules = package_modules()
    users = {name for name, (file, _) in modules.items() if "argparse" in _imported_names(file)}
    assert {name for name in users if not is_cli_module(name)} == set(), sorted(users)


def test_library_modules_do_not_import_the_command_line():
    """The CLI imports the library, never the reverse (training's CLI may use the runtime's flag helpers)."""
    graph = import_graph()
    offenders = {name: sorted(n for n in deps if n.startswith("sagasr_stream.cli"))
                 for name, deps in graph.items() if not is_cli_module(name)}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


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


def test_only_the_evaluation_and_the_command_line_use_the_degradation_recipe():
    """The restoration never band-limits audio: the low-pass recipe is for making test inputs (evaluation,
    ``sagasr bench``) and training pairs."""
    users = {name for name, deps in import_graph().items() if "sagasr_stream.degradation" in deps}
    runtime_users = {n for n in users if n.startswith("sagasr_stream.")}
    assert runtime_users and all(n.startswith(("sagasr_stream.evaluation", "sagasr_stream.cli")) for n in runtime_users), \
        sorted(runtime_users)
    assert "sagasr_training.degrade" in users


@pytest.mark.parametrize("module", ["sagasr_stream", "sagasr_stream.testing", "sagasr_stream.evaluation",
                                    "sagasr_stream.cli"])
def test_optional_heavy_dependencies_are_imported_lazily(module):
    """The runtime, the test-bundle builder, the evaluation and the CLI import without onnx, matplotlib, torch
    (the builder needs onnx and the spectrogram pictures matplotlib only when called: extras ``dev``/``eval``)."""
    code = ("import sys\n"
            "class Absent:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('onnx', 'matplotlib', 'torch', 'stable_audio_tools'):\n"
            "            raise ImportError(f'{name} is not installed (test)')\n"
            "sys.meta_path.insert(0, Absent())\n"
            f"import {module}\n"
            "assert not {'onnx', 'matplotlib', 'torch'} & set(sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


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
