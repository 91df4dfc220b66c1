"""``testbed emulate``: its table, exit codes and JSON, and the refusal without tools."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.network.catalog import Catalog
from testbed.network.emulate import Plan, session
from testbed.network.emulate.ruleset import Ruleset, compile_ruleset

from .conftest import PILOT


def test_without_the_tools_it_exits_2_naming_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No ``ip`` and no ``nft`` on the PATH (root or not): exit 2, each named with the
    package to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["emulate", str(PILOT), "--design", "per-site-vlans"]) == 2
    said = capsys.readouterr().err
    assert "the 'ip' command (apt-get install iproute2)" in said
    assert "the 'nft' command (apt-get install nftables)" in said


@pytest.mark.usefixtures("host")
def test_a_matching_design_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "emulate.json"
    code = main(["emulate", str(PILOT), "--design", "zero-trust-microsegmentation",
                 "--json", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "drift 0" in printed and "per namespace" in printed and "per flow" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["counts"]["drift"] == 0
    assert len(data["rows"]) == data["counts"]["flows"] > 0
    assert {row["Match"] for row in data["rows"]} == {"yes"}


@pytest.mark.usefixtures("host")
def test_drift_exits_1_and_says_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shipped design drifts, so the kernel is made to: the ruleset loaded lacks
    the elements of per-site-vlans' rules[2] (imaging to servers on tcp/443), a rule
    removed behind the model's back."""
    def without_rule_2(plan: Plan, *, catalog: Catalog | None = None) -> Ruleset:
        full = compile_ruleset(plan, catalog=catalog)
        kept = tuple(e for e in full.elements if e.label != "rules[2]")
        assert len(kept) < len(full.elements)
        return replace(full, elements=kept)

    monkeypatch.setattr(session, "compile_ruleset", without_rule_2)
    code = main(["emulate", str(PILOT), "--design", "per-site-vlans", "--drift-only"])
    printed = capsys.readouterr().out
    assert code == 1
    drift = [line for line in printed.splitlines() if line.startswith("DRIFT ")]
    assert drift and all("/443: model " in line and "kernel refused" in line
                         and "the compiled ruleset does not" in line for line in drift)  # fmt: skip
    # FHIR accepted; EST and token open in the network, refused at the service
    assert {line.split()[6].rstrip(",") for line in drift} == {"ACCEPTED", "DENIED_IDENTITY"}
    assert {line.split()[4].split("/")[0] for line in drift} == {"fhir", "est", "token"}


@pytest.mark.usefixtures("host")
def test_a_scenario_without_a_design_needs_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", str(PILOT)]) == 2
    assert "design: expected a design" in capsys.readouterr().err
