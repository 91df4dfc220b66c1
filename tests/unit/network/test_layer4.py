"""The model decides at layer 4, as the kernel's filter does (issue 13's fix): a rule
opens its service's (protocol, port) to every service on it in the destination's
group, and the identity conditions are those of the service the flow reaches.

The toy: devices in zone a, the EHR (FHIR), the CA (EST) and the IdP (token) in one
group, all three on tcp/443.
"""

from __future__ import annotations

from testbed.devices import DeviceClass
from testbed.network import (
    CredentialIssuance,
    Design,
    EndpointKind,
    Group,
    IdentityCondition,
    Rule,
)
from testbed.network.matrix import Disposition, Held, Matrix, Place

DEVICE = Place(EndpointKind.DEVICE, "s", "a", DeviceClass.IMAGING_MODALITY)
OTHER = Place(EndpointKind.DEVICE, "s", "b", DeviceClass.BEDSIDE_MONITOR_GATEWAY)
EHR = Place(EndpointKind.EHR, "s", "c")
CA = Place(EndpointKind.CA, "s", "c")
IDP = Place(EndpointKind.IDP, "s", "c")
PACS = Place(EndpointKind.PACS, "s", "c")
CERT = IdentityCondition.VALID_DEVICE_CERTIFICATE
GROUPS = (Group("a", zones=("a",)), Group("b", zones=("b",)), Group("servers", zones=("c",)))
NOTHING, WITH_CERT = Held(), Held(certificate=True)


def _matrix(*rules: Rule, groups: tuple[Group, ...] = GROUPS) -> Matrix:
    return Matrix(Design("l4", CredentialIssuance.EST_AUTOMATED_RENEWAL, groups, rules=rules))


def test_a_rule_on_fhir_opens_est_and_token_on_the_same_port() -> None:
    """The port is open (the kernel lets the connect through); the design sets no
    condition on EST or token there, so the model accepts no flow to them, and says
    which rule opened the port."""
    matrix = _matrix(Rule("a", "servers", "fhir", CERT))
    assert matrix.decide(DEVICE, EHR, "fhir", WITH_CERT).accepted
    for place, service in ((CA, "est"), (IDP, "token")):
        verdict = matrix.decide(DEVICE, place, service, WITH_CERT)
        assert verdict.disposition is Disposition.DENIED_IDENTITY
        assert verdict.rule == "rules[0]" and verdict.identity is None
        assert "through rules[0] (fhir, tcp/443)" in verdict.detail
    assert matrix.decide(DEVICE, PACS, "ssh", WITH_CERT).disposition is Disposition.DENIED_IN


def test_fhir_reached_through_an_est_rule_asks_what_fhir_asks() -> None:
    """Group a may enroll (EST, no identity); group b may use FHIR with a certificate.
    A flow from a to FHIR passes the filter through the EST rule and meets FHIR's own
    condition, not EST's: without a certificate it is refused."""
    matrix = _matrix(Rule("a", "servers", "est"), Rule("b", "servers", "fhir", CERT))
    assert matrix.decide(DEVICE, CA, "est", NOTHING).accepted
    refused = matrix.decide(DEVICE, EHR, "fhir", NOTHING)
    assert refused.disposition is Disposition.DENIED_IDENTITY
    assert refused.identity is CERT
    assert "needs valid-device-certificate (rules[1])" in refused.detail
    accepted = matrix.decide(DEVICE, EHR, "fhir", WITH_CERT)
    assert accepted.accepted and accepted.rule == "rules[0]" and accepted.identity is CERT
    assert "through rules[0] (est, tcp/443), meeting valid-device-certificate as rules[1] asks" in (
        accepted.detail
    )


def test_a_rule_naming_the_service_decides_as_before() -> None:
    """When a rule names the service, its own condition decides and the detail is the
    one a service-level model gave."""
    matrix = _matrix(Rule("a", "servers", "est"), Rule("a", "servers", "fhir", CERT))
    verdict = matrix.decide(DEVICE, EHR, "fhir", WITH_CERT)
    assert verdict.accepted and verdict.rule == "rules[1]"
    assert verdict.detail == "a -> servers on fhir by rules[1]"
    denied = matrix.decide(DEVICE, EHR, "fhir", NOTHING)
    assert denied.disposition is Disposition.DENIED_IDENTITY and denied.rule == "rules[1]"


def test_a_group_of_its_own_closes_the_port_to_the_others() -> None:
    """The fix the emulation suggested before: the CA and IdP in a group of their own."""
    groups = (*GROUPS[:2], Group("ca", kinds=(EndpointKind.CA, EndpointKind.IDP)), GROUPS[2])
    matrix = _matrix(Rule("a", "servers", "fhir", CERT), groups=groups)
    assert matrix.decide(DEVICE, EHR, "fhir", WITH_CERT).accepted
    assert matrix.decide(DEVICE, CA, "est", WITH_CERT).disposition is Disposition.DENIED_IN


def test_a_same_site_rule_opens_its_port_at_its_site_only() -> None:
    elsewhere = Place(EndpointKind.CA, "t", "c")
    matrix = _matrix(Rule("a", "servers", "fhir", CERT, same_site=True),
                     Rule("b", "servers", "est"))  # fmt: skip
    assert matrix.decide(DEVICE, elsewhere, "est", WITH_CERT).disposition is Disposition.DENIED_IN
    assert matrix.decide(DEVICE, CA, "est", WITH_CERT).accepted  # EST's own condition: none


def test_a_token_with_scope_rule_is_met_by_any_scope_that_covers_it() -> None:
    """SMART semantics, not string equality: a device pre-authorized for
    system/Observation.cr (or system/*.cruds, or v1 system/Observation.write) holds
    the system/Observation.c the rule asks for; a narrower or other scope does not."""
    rule = Rule("a", "servers", "fhir", IdentityCondition.TOKEN_WITH_SCOPE,
                "system/Observation.c")  # fmt: skip
    matrix = _matrix(rule)
    for held in (("system/Observation.c",), ("system/Observation.cr",), ("system/*.cruds",),
                 ("system/Observation.write",), ("not a scope", "system/Observation.crs")):
        assert matrix.decide(DEVICE, EHR, "fhir", Held(scopes=frozenset(held))).accepted, held
    for held in ((), ("system/Observation.rs",), ("system/Patient.cruds",),
                 ("system/Observation.c?category=vital-signs",), ("not a scope",)):
        verdict = matrix.decide(DEVICE, EHR, "fhir", Held(scopes=frozenset(held)))
        assert verdict.disposition is Disposition.DENIED_IDENTITY, held
