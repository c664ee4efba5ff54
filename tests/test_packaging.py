"""The dependency floors ``pyproject.toml`` declares are the versions the runtime tests were run with
(``tests/lowest-versions.txt``): a floor raised in one place and not the other is caught here."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def declared_floors() -> dict[str, str]:
    """{name: version} of every ``"name>=version"`` requirement in ``pyproject.toml`` (dependencies and extras)."""
    text = (ROOT / "pyproject.toml").read_text()
    return {name.lower(): version for name, version in re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9.]+)', text)}


def lowest_pins() -> dict[str, str]:
    """{name: version} of the ``name==version`` pins in ``tests/lowest-versions.txt``."""
    pins = {}
    for line in (ROOT / "tests" / "lowest-versions.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def same_release(floor: str, pin: str) -> bool:
    """Whether ``pin`` is the release ``floor`` names (1.21 names 1.21.1; 0.9.21 names 0.9.21 only)."""
    return pin.split(".")[: len(floor.split("."))] == floor.split(".")


def test_each_tested_lowest_version_is_the_floor_pyproject_declares():
    floors, pins = declared_floors(), lowest_pins()
    assert {"numpy", "scipy", "onnxruntime", "pedalboard", "tqdm"} <= pins.keys()
    for name, pin in pins.items():
        assert name in floors, f"{name} is pinned in tests/lowest-versions.txt but has no floor in pyproject.toml"
        assert same_release(floors[name], pin), f"{name}: pyproject.toml says >={floors[name]}, tested with {pin}"
    assert floors["onnxruntime-gpu"] == floors["onnxruntime"]  # the CUDA build: the same kernels' release
