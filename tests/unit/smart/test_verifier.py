"""The resource server's token check, the IdP's key rotation with overlap, and the
relying party's JWKS cache (fresh, stale on purpose, refreshed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.jwk import ECKey

from testbed.decisions import Hop, Reason
from testbed.smart import IdentityProvider, IdpJwksCache, TokenVerifier
from testbed.smart.scopes import parse_scopes

from .conftest import CLIENT, FHIR, ISSUER, NOW, MakeIdp, granted, sign_assertion, token_request

MINUTE = timedelta(minutes=1)


def _verifier(idp: IdentityProvider, **options: object) -> TokenVerifier:
    lifetime = options.pop("lifetime", timedelta(minutes=5))
    cache = IdpJwksCache(idp.jwks, lifetime=lifetime)  # type: ignore[arg-type]
    return TokenVerifier(issuer=ISSUER, audience=FHIR, jwks=cache, **options)  # type: ignore[arg-type]


def _token(
    idp: IdentityProvider,
    key: ECKey,
    *,
    jti: str = "a",
    thumbprint: str | None = None,
    now: datetime = NOW,
) -> str:
    request = token_request(sign_assertion(key, jti=jti, now=now), thumbprint=thumbprint)
    return granted(idp.token(request, now=now))


def test_a_fresh_token_is_accepted_with_its_client_and_scopes(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    idp = make_idp()
    check = _verifier(idp).verify(_token(idp, ec_key), now=NOW + MINUTE)
    assert check.allowed and check.decision.hop is Hop.APPLICATION
    assert check.client_id == CLIENT
    assert check.scopes == parse_scopes("system/Observation.rs")


def test_refusals_of_the_token_hop(make_idp: MakeIdp, ec_key: ECKey) -> None:
    idp, other = make_idp(), make_idp()
    other.rotate_signing_key(now=NOW - timedelta(hours=1), overlap=timedelta(0))
    token = _token(idp, ec_key)
    verifier = _verifier(idp)
    cases = {
        None: Reason.TOKEN_INVALID,
        "": Reason.TOKEN_INVALID,
        "garbage": Reason.TOKEN_INVALID,
        token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"): Reason.TOKEN_INVALID,
        _token(other, ec_key): Reason.TOKEN_KEY_UNKNOWN,  # another IdP's key
        sign_assertion(ec_key): Reason.TOKEN_INVALID,  # a client assertion is no access token
    }
    for presented, reason in cases.items():
        assert verifier.verify(presented, now=NOW + MINUTE).reason is reason, presented
    assert verifier.verify(token, now=NOW + timedelta(minutes=6)).reason is Reason.TOKEN_EXPIRED


def test_wrong_issuer_and_audience(make_idp: MakeIdp, ec_key: ECKey) -> None:
    idp = make_idp()
    token = _token(idp, ec_key)
    cache = IdpJwksCache(idp.jwks)
    other_aud = TokenVerifier(issuer=ISSUER, audience="https://pacs.example/fhir", jwks=cache)
    other_iss = TokenVerifier(issuer="https://evil.example", audience=FHIR, jwks=cache)
    assert other_aud.verify(token, now=NOW).reason is Reason.TOKEN_INVALID
    assert other_iss.verify(token, now=NOW).reason is Reason.TOKEN_INVALID


def test_a_token_signed_by_the_idp_key_with_a_foreign_typ_is_refused(make_idp: MakeIdp) -> None:
    idp = make_idp()
    key = idp.signing_keys.current
    claims = {"iss": ISSUER, "aud": FHIR, "exp": int((NOW + MINUTE).timestamp()), "scope": ""}
    header = {"alg": "ES384", "kid": key.kid, "typ": "JWT"}
    forged = jwt.encode(header, claims, key.key, algorithms=["ES384"])
    assert _verifier(idp).verify(forged, now=NOW).reason is Reason.TOKEN_INVALID


def test_certificate_bound_token_with_another_certificate(make_idp: MakeIdp, ec_key: ECKey) -> None:
    idp = make_idp()
    bound = _token(idp, ec_key, jti="b", thumbprint="T-device")
    verifier = _verifier(idp)
    assert verifier.verify(bound, now=NOW, certificate_thumbprint="T-device").allowed
    for presented in ("T-other", None):
        check = verifier.verify(bound, now=NOW, certificate_thumbprint=presented)
        assert check.reason is Reason.TOKEN_CERT_MISMATCH
    unbound = _token(idp, ec_key, jti="u")
    assert verifier.verify(unbound, now=NOW).allowed
    strict = _verifier(idp, require_binding=True)
    assert strict.verify(unbound, now=NOW).reason is Reason.TOKEN_CERT_MISMATCH


def test_offboarding_makes_tokens_inactive_at_the_resource_server_at_once(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    idp = make_idp()
    verifier = _verifier(idp, introspect=lambda token, now: idp.introspect(token, now=now))
    token = _token(idp, ec_key)
    assert verifier.verify(token, now=NOW).allowed
    idp.offboard(CLIENT, now=NOW + timedelta(seconds=1))
    check = verifier.verify(token, now=NOW + timedelta(seconds=1))
    assert check.reason is Reason.TOKEN_INACTIVE


def test_rotation_with_overlap_keeps_old_tokens_valid_and_publishes_both(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    idp = make_idp()
    verifier = _verifier(idp, lifetime=timedelta(minutes=5))
    before = _token(idp, ec_key, jti="1")
    verifier.verify(before, now=NOW)  # the relying party caches the JWKS now
    old = idp.signing_keys.current.kid
    new = idp.rotate_signing_key(now=NOW + MINUTE, overlap=timedelta(minutes=10))
    assert [k["kid"] for k in idp.jwks(NOW + MINUTE)["keys"]] == [old, new]
    after = _token(idp, ec_key, jti="2", now=NOW + 2 * MINUTE)
    assert verifier.verify(before, now=NOW + 2 * MINUTE).allowed
    # the cached copy (from NOW) lacks the new key until its lifetime ends
    assert verifier.verify(after, now=NOW + 2 * MINUTE).reason is Reason.TOKEN_KEY_UNKNOWN
    assert verifier.verify(after, now=NOW + 5 * MINUTE).allowed
    assert [k["kid"] for k in idp.jwks(NOW + 11 * MINUTE)["keys"]] == [new]
    assert idp.introspect(after, now=NOW + 3 * MINUTE)["active"] is True


def test_a_stale_cache_fault_holds_the_old_copy_until_healed(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    idp = make_idp()
    verifier = _verifier(idp, lifetime=timedelta(minutes=1))
    verifier.verify(_token(idp, ec_key, jti="1"), now=NOW)
    verifier.jwks.hold(until=NOW + timedelta(hours=1))
    idp.rotate_signing_key(now=NOW + MINUTE, overlap=timedelta(hours=2))
    token = _token(idp, ec_key, jti="2", now=NOW + 2 * MINUTE)
    assert verifier.verify(token, now=NOW + 30 * MINUTE).reason is Reason.TOKEN_KEY_UNKNOWN
    fetches = verifier.jwks.fetches
    verifier.jwks.release()
    assert verifier.verify(token, now=NOW + 2 * MINUTE + timedelta(seconds=5)).allowed
    assert verifier.jwks.fetches == fetches + 1


def test_rotation_without_overlap_cuts_old_tokens(make_idp: MakeIdp, ec_key: ECKey) -> None:
    idp = make_idp()
    token = _token(idp, ec_key)
    idp.rotate_signing_key(now=NOW + MINUTE, overlap=timedelta(0))
    verifier = _verifier(idp)
    assert verifier.verify(token, now=NOW + MINUTE).reason is Reason.TOKEN_KEY_UNKNOWN
    assert idp.introspect(token, now=NOW + MINUTE) == {"active": False}


def test_an_unavailable_idp_jwks_refuses_fail_closed(make_idp: MakeIdp, ec_key: ECKey) -> None:
    from testbed.smart import JwksError

    idp = make_idp()
    token = _token(idp, ec_key)

    def down(now: object) -> dict[str, object]:
        raise JwksError("idp unreachable")

    verifier = TokenVerifier(issuer=ISSUER, audience=FHIR, jwks=IdpJwksCache(down))
    assert verifier.verify(token, now=NOW).reason is Reason.TOKEN_KEY_UNKNOWN


def test_signing_keys_are_the_same_for_the_same_seed(make_idp: MakeIdp) -> None:
    assert make_idp().jwks(NOW) == make_idp().jwks(NOW)
