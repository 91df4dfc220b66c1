"""Scope syntax (v1 and v2) and mediation: the grant is never wider than the request
nor than the pre-authorized scopes (properties), and the documented cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.smart.scopes import (
    Scope,
    ScopeError,
    covers,
    format_scopes,
    mediate,
    parse_scope,
    parse_scopes,
    permits,
)


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("system/Observation.rs", Scope("Observation", "rs")),
        ("system/Observation.read", Scope("Observation", "rs")),
        ("system/Observation.write", Scope("Observation", "cud")),
        ("system/Observation.*", Scope("Observation", "cruds")),
        ("system/*.cruds", Scope("*", "cruds")),
        (
            "system/Observation.rs?category=laboratory",
            Scope("Observation", "rs", ("category=laboratory",)),
        ),
        ("system/Observation.s?b=2&a=1", Scope("Observation", "s", ("a=1", "b=2"))),
    ],
)
def test_parse(text: str, scope: Scope) -> None:
    assert parse_scope(text) == scope


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.rs",
        "user/Observation.rs",
        "launch",
        "openid",
        "system/Observation",
        "system/Observation.sr",
        "system/Observation.rr",
        "system/Observation.",
        "system/Observation.x",
        "system/observation.rs",
        "system/Observation.rs?category",
        "Observation.rs",
        "system/Observation.read?",
        "system/.rs",
        "system/Observation.rs?a=1&a=2",
    ],
)
def test_malformed_scopes_raise(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


@pytest.mark.parametrize(
    ("requested", "authorized", "granted"),
    [
        ("system/Observation.cruds", "system/Observation.rs", "system/Observation.rs"),
        ("system/Observation.read", "system/Observation.cruds", "system/Observation.rs"),
        ("system/Observation.write", "system/Observation.rs", ""),
        (
            "system/*.rs",
            "system/Observation.cruds system/Patient.r",
            "system/Observation.rs system/Patient.r",
        ),
        ("system/Observation.r", "system/*.rs", "system/Observation.r"),
        (
            "system/Observation.rs",
            "system/Observation.rs?category=laboratory",
            "system/Observation.rs?category=laboratory",
        ),
        (
            "system/Observation.rs?category=vital-signs",
            "system/Observation.rs?category=laboratory",
            "",
        ),
        (
            "system/Observation.rs system/Observation.r",
            "system/Observation.cruds",
            "system/Observation.rs",
        ),
        ("system/ImagingStudy.rs", "system/Observation.cruds", ""),
    ],
)
def test_mediation_cases(requested: str, authorized: str, granted: str) -> None:
    assert format_scopes(mediate(parse_scopes(requested), parse_scopes(authorized))) == granted


def test_permits() -> None:
    scopes = parse_scopes("system/Observation.cr system/*.s")
    assert permits(scopes, "Observation", "c") and permits(scopes, "Patient", "s")
    assert not permits(scopes, "Observation", "u") and not permits(scopes, "Patient", "r")
    with pytest.raises(ValueError, match="permission"):
        permits(scopes, "Observation", "rs")


RESOURCES = st.sampled_from(["*", "Observation", "Patient", "Encounter"])
PERMS = st.sets(st.sampled_from("cruds"), min_size=1).map(
    lambda s: "".join(p for p in "cruds" if p in s)
)
PARAMS = st.dictionaries(
    st.sampled_from(["category", "code"]), st.sampled_from(["lab", "vital"]), max_size=2
).map(lambda d: tuple(sorted(f"{k}={v}" for k, v in d.items())))
SCOPES = st.builds(Scope, RESOURCES, PERMS, PARAMS)
SETS = st.lists(SCOPES, max_size=5)


@given(SETS, SETS)
def test_every_granted_scope_is_within_a_requested_and_an_authorized_one(
    requested: list[Scope], authorized: list[Scope]
) -> None:
    for granted in mediate(requested, authorized):
        assert any(covers(r, granted) for r in requested)
        assert any(covers(a, granted) for a in authorized)


@given(SETS, SETS)
def test_what_both_sides_permit_is_granted(requested: list[Scope], authorized: list[Scope]) -> None:
    granted = mediate(requested, authorized)
    for resource in ("Observation", "Patient"):
        for permission in "cruds":
            both = permits(requested, resource, permission) and permits(
                authorized, resource, permission
            )
            if both:
                assert permits(granted, resource, permission)


@given(SETS, SETS)
def test_mediation_is_symmetric_and_idempotent(
    requested: list[Scope], authorized: list[Scope]
) -> None:
    granted = mediate(requested, authorized)
    assert granted == mediate(authorized, requested)
    assert mediate(granted, authorized) == granted


@given(SCOPES)
def test_a_scope_reads_back_from_its_text(scope: Scope) -> None:
    assert parse_scope(str(scope)) == scope
