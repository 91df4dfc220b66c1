"""The shipped JSON Schema is what editors read: plain ``oneOf`` with ``const`` tags (no
OpenAPI ``discriminator``), expectations only on known measures, and every shipped
scenario valid against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "scenarios" / "scenario.schema.json").read_text(encoding="utf-8"))
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def _errors(data: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(data)]


def test_no_openapi_discriminator() -> None:
    assert "discriminator" not in json.dumps(SCHEMA)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_valid_against_the_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["start"] = data["start"].isoformat().replace("+00:00", "Z")  # YAML makes a datetime
    assert _errors(data) == []


def test_a_fault_matches_exactly_one_variant_by_its_kind() -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "two-site-pilot.yaml").read_text())
    data["start"] = "2026-01-05T00:00:00Z"
    data["faults"] = [{"kind": "ca-outage", "start": "1d", "end": "2d"}]
    assert _errors(data) == []
    data["faults"] = [{"kind": "ca_outage", "start": "1d", "end": "2d"}]
    assert _errors(data)  # no variant's const matches
    data["faults"] = [{"start": "1d", "end": "2d"}]
    assert _errors(data)  # the kind is required


def test_expectations_accept_only_known_measures() -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "two-site-pilot.yaml").read_text())
    data["start"] = "2026-01-05T00:00:00Z"
    data["expectations"] = {"unauthorised_access": 0}
    assert _errors(data)
