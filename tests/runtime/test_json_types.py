"""The JSON-value-against-type-hint check shared by bundle manifests and training configs."""
from __future__ import annotations

from typing import Any

import pytest

from sagasr_stream.json_types import type_problem


@pytest.mark.parametrize("value, hint", [
    (3, int), (3, float), (2.5, float), (True, bool), ("x", str), ({}, dict[str, float]), (None, int | None),
    ("model", float | str), ([0.9, 0.99], tuple[float, float]), (["butter"], tuple[str, ...]), ([], tuple[str, ...]),
    ("anything", Any),
])
def test_values_that_fit(value: object, hint: Any) -> None:
    assert type_problem(value, hint) is None


@pytest.mark.parametrize("value, hint, problem", [
    ("5", int, "an integer"), (2.5, int, "an integer"), (True, int, "an integer"), (True, float, "a number"),
    ("false", bool, "true or false"), (None, float, "a number"), ("x", float | None, "a number or null"),
    (0.9, tuple[float, float], "a list of 2 numbers"), ([0.9], tuple[float, float], "a list of 2 numbers"),
    ("butter", tuple[str, ...], "a list of strings"), (["a", 1], tuple[str, ...], "a list of strings"),
    (["dit.onnx"], dict[str, str], "an object"),
])
def test_values_that_do_not_fit_say_what_the_field_takes(value: object, hint: Any, problem: str) -> None:
    assert type_problem(value, hint) == problem
