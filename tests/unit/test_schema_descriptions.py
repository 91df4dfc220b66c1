"""Every property of the scenario and design JSON Schemas carries a description, so
an editor's hover says what a field is (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.network.design import json_schema as design_schema
from testbed.scenario import json_schema as scenario_schema


def undescribed(node: Any, at: str = "#") -> list[str]:
    """The JSON pointers of the properties under ``node`` without a description."""
    found: list[str] = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                found.append(f"{at}/properties/{name}")
        for key, value in node.items():
            found += undescribed(value, f"{at}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += undescribed(value, f"{at}/{i}")
    return found


@pytest.mark.parametrize("schema", [scenario_schema, design_schema], ids=["scenario", "design"])
def test_every_property_is_described(schema: Any) -> None:
    assert undescribed(schema()) == []


def test_a_property_without_description_is_found() -> None:
    """The walk finds a missing description anywhere, or the test above could not fail."""
    schema = {"$defs": {"A": {"properties": {"x": {"type": "string", "description": "X."},
                                             "y": {"type": "integer"}}}},
              "properties": {"a": {"$ref": "#/$defs/A"}}}  # fmt: skip
    assert undescribed(schema) == ["#/properties/a", "#/$defs/A/properties/y"]


def test_shared_fault_fields_are_described_in_every_fault() -> None:
    defs = scenario_schema()["$defs"]
    assert "device:ID" in defs["RenewalAgentBroken"]["properties"]["target"]["description"]
    assert "first" in defs["ClockSkew"]["properties"]["count"]["description"]
    assert defs["CaOutage"]["properties"]["start"]["description"].startswith("When the fault")
