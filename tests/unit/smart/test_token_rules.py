"""One refusal per rule of the token endpoint, each with its RFC 6749 error and reason
(issue 11 point 1), and the negative suite beyond Inferno's SMART kit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from joserfc.jwk import ECKey, RSAKey

from testbed.decisions import Reason
from testbed.events import EventKind, EventLog
from testbed.smart import AssertionRules, IdpSettings, OAuthError, TokenRequest

from .conftest import (
    CLIENT,
    DEVICE,
    DROP,
    JWKS_URL,
    NOW,
    TOKEN_URL,
    FakeFetcher,
    MakeIdp,
    granted,
    public_set,
    sign_assertion,
    token_request,
)


@dataclass(frozen=True)
class Keys:
    ec: ECKey
    rsa: RSAKey
    stranger: ECKey


@pytest.fixture
def keys(ec_key: ECKey, rsa_key: RSAKey, stranger_key: ECKey) -> Keys:
    return Keys(ec_key, rsa_key, stranger_key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(key: ECKey) -> str:
    """The classic algorithm-confusion attack: HS256 keyed with the public key's PEM."""
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "jti": "hs",
              "exp": int((NOW + timedelta(minutes=4)).timestamp())}  # fmt: skip
    payload = _b64(json.dumps(claims).encode())
    secret = key.as_pem(private=False)
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


def unsigned(key: ECKey) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": key.kid, "typ": "JWT"}).encode())
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "jti": "none",
              "exp": int((NOW + timedelta(minutes=4)).timestamp())}  # fmt: skip
    return f"{header}.{_b64(json.dumps(claims).encode())}."


Case = Callable[[Keys], TokenRequest]
E, R = OAuthError, Reason
LATE = int((NOW + timedelta(minutes=6)).timestamp())
PAST = int((NOW - timedelta(minutes=2)).timestamp())

CASES: list[tuple[str, Case, OAuthError, Reason]] = [
    (
        "grant_type missing",
        lambda k: token_request(sign_assertion(k.ec), form={"grant_type": DROP}),  # type: ignore[dict-item]
        E.INVALID_REQUEST,
        R.TOKEN_REQUEST_INVALID,
    ),
    (
        "parameter repeated",
        lambda k: TokenRequest(
            (*token_request(sign_assertion(k.ec)).form, ("scope", "system/Patient.rs")), TOKEN_URL
        ),
        E.INVALID_REQUEST,
        R.TOKEN_REQUEST_INVALID,
    ),
    (
        "grant_type password",
        lambda k: token_request(sign_assertion(k.ec), form={"grant_type": "password"}),
        E.UNSUPPORTED_GRANT_TYPE,
        R.GRANT_TYPE_UNSUPPORTED,
    ),
    (
        "no client authentication",
        lambda k: token_request(None),
        E.INVALID_CLIENT,
        R.CLIENT_AUTH_METHOD_REFUSED,
    ),
    (
        "wrong client_assertion_type",
        lambda k: token_request(sign_assertion(k.ec), form={"client_assertion_type": "urn:x"}),
        E.INVALID_CLIENT,
        R.CLIENT_AUTH_METHOD_REFUSED,
    ),
    (
        "Basic credentials in private_key_jwt mode",
        lambda k: token_request(
            sign_assertion(k.ec), authorization="Basic " + base64.b64encode(b"a:b").decode()
        ),
        E.INVALID_CLIENT,
        R.CLIENT_AUTH_METHOD_REFUSED,
    ),
    ("not a JWS", lambda k: token_request("not.a-jws"), E.INVALID_CLIENT, R.ASSERTION_MALFORMED),
    (
        # Python's parser recurses per level: this was a RecursionError (a 500)
        "claims nested 3,000 levels deep",
        lambda k: token_request(_b64(b'{"alg":"ES384"}') + "." + _b64(b"[" * 3000) + ".c2ln"),
        E.INVALID_CLIENT,
        R.ASSERTION_MALFORMED,
    ),
    (
        "iss missing",
        lambda k: token_request(sign_assertion(k.ec, claims={"iss": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_MALFORMED,
    ),
    (
        "iss an unknown client",
        lambda k: token_request(sign_assertion(k.ec, claims={"iss": "nobody", "sub": "nobody"})),
        E.INVALID_CLIENT,
        R.CLIENT_UNKNOWN,
    ),
    (
        "alg none",
        lambda k: token_request(unsigned(k.ec)),
        E.INVALID_CLIENT,
        R.ASSERTION_ALG_REFUSED,
    ),
    (
        "HS256 signed with the public key as secret",
        lambda k: token_request(hs256_with_public_key(k.ec)),
        E.INVALID_CLIENT,
        R.ASSERTION_ALG_REFUSED,
    ),
    (
        "ES256 (not SMART)",
        lambda k: token_request(
            sign_assertion(
                ECKey.generate_key("P-256", parameters={"kid": "k1"}), header={"alg": "ES256"}
            )
        ),
        E.INVALID_CLIENT,
        R.ASSERTION_ALG_REFUSED,
    ),
    (
        "RS256 (not SMART)",
        lambda k: token_request(sign_assertion(k.rsa, header={"alg": "RS256"})),
        E.INVALID_CLIENT,
        R.ASSERTION_ALG_REFUSED,
    ),
    (
        "typ missing",
        lambda k: token_request(sign_assertion(k.ec, header={"typ": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_HEADER_INVALID,
    ),
    (
        "typ at+jwt (an access token as assertion)",
        lambda k: token_request(sign_assertion(k.ec, header={"typ": "at+jwt"})),
        E.INVALID_CLIENT,
        R.ASSERTION_HEADER_INVALID,
    ),
    (
        "kid missing",
        lambda k: token_request(sign_assertion(k.ec, header={"kid": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_HEADER_INVALID,
    ),
    (
        "jku not registered",
        lambda k: token_request(
            sign_assertion(k.ec, header={"jku": "https://attacker.example/jwks"})
        ),
        E.INVALID_CLIENT,
        R.JKU_NOT_REGISTERED,
    ),
    (
        "sub != iss",
        lambda k: token_request(sign_assertion(k.ec, claims={"sub": "client-dev-2"})),
        E.INVALID_CLIENT,
        R.ASSERTION_ISSUER_MISMATCH,
    ),
    (
        "iss != client_id sent",
        lambda k: token_request(sign_assertion(k.ec), form={"client_id": "client-dev-2"}),
        E.INVALID_CLIENT,
        R.ASSERTION_ISSUER_MISMATCH,
    ),
    (
        "kid unknown",
        lambda k: token_request(sign_assertion(k.ec, header={"kid": "k9"})),
        E.INVALID_CLIENT,
        R.CLIENT_KEY_UNRESOLVED,
    ),
    (
        "kid of an RSA key with ES384",
        lambda k: token_request(sign_assertion(k.ec, header={"kid": "k-rsa"})),
        E.INVALID_CLIENT,
        R.CLIENT_KEY_UNRESOLVED,
    ),
    (
        "a key of another client (same kid)",
        lambda k: token_request(sign_assertion(k.stranger)),
        E.INVALID_CLIENT,
        R.ASSERTION_SIGNATURE_INVALID,
    ),
    (
        "aud wrong",
        lambda k: token_request(
            sign_assertion(k.ec, claims={"aud": "https://other.example/token"})
        ),
        E.INVALID_CLIENT,
        R.ASSERTION_AUDIENCE_INVALID,
    ),
    (
        "aud the token URL with a trailing slash",
        lambda k: token_request(sign_assertion(k.ec, claims={"aud": TOKEN_URL + "/"})),
        E.INVALID_CLIENT,
        R.ASSERTION_AUDIENCE_INVALID,
    ),
    (
        "aud an array without the token URL",
        lambda k: token_request(
            sign_assertion(k.ec, claims={"aud": ["https://other.example/token"]})
        ),
        E.INVALID_CLIENT,
        R.ASSERTION_AUDIENCE_INVALID,
    ),
    (
        "aud an array with the token URL (refused by default)",
        lambda k: token_request(
            sign_assertion(k.ec, claims={"aud": [TOKEN_URL, "https://other.example/token"]})
        ),
        E.INVALID_CLIENT,
        R.ASSERTION_AUDIENCE_INVALID,
    ),
    (
        "aud missing",
        lambda k: token_request(sign_assertion(k.ec, claims={"aud": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_AUDIENCE_INVALID,
    ),
    (
        "exp missing",
        lambda k: token_request(sign_assertion(k.ec, claims={"exp": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_MALFORMED,
    ),
    (
        "exp a string",
        lambda k: token_request(sign_assertion(k.ec, claims={"exp": "soon"})),
        E.INVALID_CLIENT,
        R.ASSERTION_MALFORMED,
    ),
    (
        "exp more than 5 minutes ahead",
        lambda k: token_request(sign_assertion(k.ec, claims={"exp": LATE})),
        E.INVALID_CLIENT,
        R.ASSERTION_LIFETIME_TOO_LONG,
    ),
    (
        "expired",
        lambda k: token_request(sign_assertion(k.ec, claims={"exp": PAST})),
        E.INVALID_CLIENT,
        R.ASSERTION_EXPIRED,
    ),
    (
        "nbf in the future",
        lambda k: token_request(sign_assertion(k.ec, claims={"nbf": LATE})),
        E.INVALID_CLIENT,
        R.ASSERTION_EXPIRED,
    ),
    (
        "jti missing",
        lambda k: token_request(sign_assertion(k.ec, claims={"jti": DROP})),
        E.INVALID_CLIENT,
        R.ASSERTION_MALFORMED,
    ),
    (
        "scope missing",
        lambda k: token_request(sign_assertion(k.ec), form={"scope": DROP}),  # type: ignore[dict-item]
        E.INVALID_SCOPE,
        R.SCOPE_MALFORMED,
    ),
    (
        "a patient scope",
        lambda k: token_request(sign_assertion(k.ec), form={"scope": "patient/Observation.rs"}),
        E.INVALID_SCOPE,
        R.SCOPE_MALFORMED,
    ),
    (
        "a scope not pre-authorized",
        lambda k: token_request(sign_assertion(k.ec), form={"scope": "system/ImagingStudy.rs"}),
        E.INVALID_SCOPE,
        R.SCOPE_NOT_AUTHORIZED,
    ),
    (
        "more permissions than pre-authorized, only",
        lambda k: token_request(sign_assertion(k.ec), form={"scope": "system/Encounter.c"}),
        E.INVALID_SCOPE,
        R.SCOPE_NOT_AUTHORIZED,
    ),
]


@pytest.mark.parametrize(("title", "case", "error", "reason"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_refuses_with_its_error_and_reason(
    make_idp: MakeIdp, keys: Keys, title: str, case: Case, error: OAuthError, reason: Reason
) -> None:
    log = EventLog()
    idp = make_idp(log=log)
    response = idp.token(case(keys), now=NOW)
    assert (response.status, response.error, response.reason) == (error.status, error, reason)
    assert set(response.body) == {"error", "error_description"}
    assert response.body["error_description"]
    assert ("Cache-Control", "no-store") in response.headers
    [event] = log.of_kind(EventKind.TOKEN_REFUSED)
    assert (event.data["error"], event.data["reason"]) == (error.value, reason.value)
    assert idp.issued.live(now=NOW) == 0


def test_the_unchanged_request_is_granted(make_idp: MakeIdp, keys: Keys) -> None:
    """The control for every case above: without the change, the same request passes."""
    log = EventLog()
    idp = make_idp(log=log)
    response = idp.token(token_request(sign_assertion(keys.ec)), now=NOW)
    assert response.granted and response.reason is Reason.OK
    body = dict(response.body)
    assert body.pop("access_token")
    assert body == {"token_type": "bearer", "expires_in": 300, "scope": "system/Observation.rs"}
    assert "refresh_token" not in response.body
    [event] = log.of_kind(EventKind.TOKEN_GRANTED)
    assert event.subject == DEVICE and event.data["client_id"] == CLIENT
    assert "requested" not in event.data  # it asked for what it got


def test_a_grant_says_what_was_requested_beyond_what_it_got(make_idp: MakeIdp,
                                                             keys: Keys) -> None:  # fmt: skip
    log = EventLog()
    idp = make_idp(log=log)
    wide = token_request(sign_assertion(keys.ec), form={"scope": "system/*.*"})
    response = idp.token(wide, now=NOW)
    assert response.granted
    [event] = log.of_kind(EventKind.TOKEN_GRANTED)
    assert (event.data["scope"], event.data["requested"]) == (response.body["scope"],
                                                              "system/*.*")  # fmt: skip


def test_rs384_with_the_registered_rsa_key_is_granted(make_idp: MakeIdp, keys: Keys) -> None:
    granted(make_idp().token(token_request(sign_assertion(keys.rsa)), now=NOW))


def test_an_alg_the_client_did_not_register_is_refused(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    idp.register("c2", device_id="dev-2", scopes="system/Observation.rs",
                 jwks=public_set(keys.rsa), algorithms=("ES384",), now=NOW)  # fmt: skip
    claims = {"iss": "c2", "sub": "c2"}
    response = idp.token(token_request(sign_assertion(keys.rsa, claims=claims)), now=NOW)
    assert (response.error, response.reason) == (
        OAuthError.INVALID_CLIENT,
        Reason.ASSERTION_ALG_REFUSED,
    )


def test_aud_array_with_the_token_url_passes_only_where_the_rules_allow(
    make_idp: MakeIdp, keys: Keys
) -> None:
    settings = IdpSettings(assertion=AssertionRules(audience_array=True))
    aud = [TOKEN_URL, "https://other.example/token"]
    granted(
        make_idp(settings).token(
            token_request(sign_assertion(keys.ec, claims={"aud": aud})), now=NOW
        )
    )
    response = make_idp(settings).token(
        token_request(sign_assertion(keys.ec, claims={"aud": ["https://other.example/token"]})),
        now=NOW,
    )
    assert response.reason is Reason.ASSERTION_AUDIENCE_INVALID


def test_kid_duplicated_in_the_jwks_is_refused(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    twice = public_set(keys.ec, keys.stranger)  # two EC keys with kid k1
    idp.register("c2", device_id="dev-2", scopes="system/Observation.rs", jwks=twice, now=NOW)
    claims = {"iss": "c2", "sub": "c2"}
    response = idp.token(token_request(sign_assertion(keys.ec, claims=claims)), now=NOW)
    assert (response.error, response.reason) == (
        OAuthError.INVALID_CLIENT,
        Reason.CLIENT_KEY_UNRESOLVED,
    )


def test_jti_replay_is_refused_and_a_new_jti_is_not(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    assertion = sign_assertion(keys.ec)
    granted(idp.token(token_request(assertion), now=NOW))
    again = idp.token(token_request(assertion), now=NOW + timedelta(seconds=1))
    assert (again.error, again.reason) == (OAuthError.INVALID_CLIENT, Reason.TOKEN_REPLAYED)
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="jti-2")), now=NOW))


def test_a_jti_is_per_issuer(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    idp.register("c2", device_id="dev-2", scopes="system/Observation.rs",
                 jwks=public_set(keys.stranger), now=NOW)  # fmt: skip
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="same")), now=NOW))
    other = sign_assertion(keys.stranger, jti="same", claims={"iss": "c2", "sub": "c2"})
    granted(idp.token(token_request(other), now=NOW))


def test_a_replay_refused_before_the_signature_check_does_not_poison_the_cache(
    make_idp: MakeIdp, keys: Keys
) -> None:
    """A forged assertion with a victim's jti must not make the victim's real one a replay."""
    idp = make_idp()
    forged = sign_assertion(keys.stranger, jti="victim")
    assert idp.token(token_request(forged), now=NOW).reason is Reason.ASSERTION_SIGNATURE_INVALID
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="victim")), now=NOW))


def test_leeway_lets_a_just_expired_assertion_pass_and_no_more(
    make_idp: MakeIdp, keys: Keys
) -> None:
    exp = int((NOW - timedelta(seconds=20)).timestamp())
    granted(make_idp().token(token_request(sign_assertion(keys.ec, claims={"exp": exp})), now=NOW))
    rules = AssertionRules(leeway=timedelta(seconds=10))
    response = make_idp(IdpSettings(assertion=rules)).token(
        token_request(sign_assertion(keys.ec, claims={"exp": exp})), now=NOW
    )
    assert response.reason is Reason.ASSERTION_EXPIRED


def test_suspended_and_offboarded_clients_are_unauthorized(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    idp.suspend(CLIENT, now=NOW)
    response = idp.token(token_request(sign_assertion(keys.ec, jti="a")), now=NOW)
    assert (response.error, response.reason) == (
        OAuthError.UNAUTHORIZED_CLIENT,
        Reason.CLIENT_SUSPENDED,
    )
    assert response.status == 400
    idp.resume(CLIENT, now=NOW)
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="b")), now=NOW))
    idp.offboard(CLIENT, now=NOW)
    response = idp.token(token_request(sign_assertion(keys.ec, jti="c")), now=NOW)
    assert (response.error, response.reason) == (
        OAuthError.UNAUTHORIZED_CLIENT,
        Reason.CLIENT_OFFBOARDED,
    )


def test_a_token_is_inactive_at_once_after_offboarding(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    token = granted(idp.token(token_request(sign_assertion(keys.ec)), now=NOW))
    answer = idp.introspect(token, now=NOW + timedelta(seconds=1))
    assert answer["active"] is True
    assert {k: answer[k] for k in ("scope", "client_id")} == {
        "scope": "system/Observation.rs", "client_id": CLIENT,
    }  # fmt: skip
    assert answer["exp"] == int((NOW + timedelta(minutes=5)).timestamp())
    idp.offboard(CLIENT, now=NOW + timedelta(seconds=2))
    assert idp.introspect(token, now=NOW + timedelta(seconds=2)) == {"active": False}


def test_introspection_of_expired_foreign_and_garbage_tokens(make_idp: MakeIdp, keys: Keys) -> None:
    idp, other = make_idp(), make_idp()
    token = granted(idp.token(token_request(sign_assertion(keys.ec)), now=NOW))
    assert idp.introspect(token, now=NOW + timedelta(minutes=5)) == {"active": False}
    assert idp.introspect("garbage", now=NOW) == {"active": False}
    other.rotate_signing_key(now=NOW - timedelta(hours=1), overlap=timedelta(0))
    assert other.introspect(token, now=NOW) == {"active": False}  # other keys: not ours


def test_certificate_binding(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    response = idp.token(token_request(sign_assertion(keys.ec), thumbprint="T1"), now=NOW)
    from joserfc import jws

    claims = json.loads(jws.extract_compact(granted(response).encode()).payload)
    assert claims["cnf"] == {"x5t#S256": "T1"}
    assert claims["client_id"] == CLIENT and claims["sub"] == CLIENT
    bound = make_idp(IdpSettings(certificate_bound=True))
    response = bound.token(token_request(sign_assertion(keys.ec)), now=NOW)
    assert (response.error, response.reason) == (
        OAuthError.INVALID_REQUEST,
        Reason.CERT_BINDING_REQUIRED,
    )


def test_jwks_by_url_is_cached_as_long_as_max_age_then_refreshed_after_rotation(
    make_idp: MakeIdp, keys: Keys
) -> None:
    fetcher = FakeFetcher(public_set(keys.ec), max_age=120)
    idp = make_idp(fetcher=fetcher)
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="1")), now=NOW))
    # the client rotates: its URL now serves only the new key
    new = ECKey.generate_key("P-384", parameters={"kid": "k2"})
    fetcher.document = public_set(new)
    later = NOW + timedelta(seconds=60)
    honoured = idp.token(token_request(sign_assertion(new, jti="2", now=later)), now=later)
    assert honoured.reason is Reason.CLIENT_KEY_UNRESOLVED  # the cached set has no k2
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="3", now=later)), now=later))
    assert fetcher.calls == [JWKS_URL]
    after = NOW + timedelta(seconds=121)
    granted(idp.token(token_request(sign_assertion(new, jti="4", now=after)), now=after))
    old = idp.token(token_request(sign_assertion(keys.ec, jti="5", now=after)), now=after)
    assert old.reason is Reason.CLIENT_KEY_UNRESOLVED
    assert fetcher.calls == [JWKS_URL, JWKS_URL]


def test_jwks_url_without_max_age_is_fetched_every_time(make_idp: MakeIdp, keys: Keys) -> None:
    fetcher = FakeFetcher(public_set(keys.ec), max_age=None)
    idp = make_idp(fetcher=fetcher)
    for jti in "abc":
        granted(idp.token(token_request(sign_assertion(keys.ec, jti=jti)), now=NOW))
    assert len(fetcher.calls) == 3


def test_jwks_url_unreachable_is_refused(make_idp: MakeIdp, keys: Keys) -> None:
    fetcher = FakeFetcher(public_set(keys.ec))
    fetcher.down = True
    response = make_idp(fetcher=fetcher).token(token_request(sign_assertion(keys.ec)), now=NOW)
    assert (response.error, response.reason) == (OAuthError.INVALID_CLIENT, Reason.JWKS_UNAVAILABLE)


def test_a_failing_jwks_url_is_not_fetched_again_before_the_backoff(
    make_idp: MakeIdp, keys: Keys,
) -> None:
    """A client's token requests cannot make the IdP fetch a failing URL at each one
    (live mode fetches on its event loop): refused ``jwks-unavailable`` from the kept
    failure for ``failure_backoff`` (10 s), then fetched again."""
    fetcher = FakeFetcher(public_set(keys.ec))
    fetcher.down = True
    idp = make_idp(fetcher=fetcher)
    refused = idp.token(token_request(sign_assertion(keys.ec, jti="1")), now=NOW)
    assert refused.reason is Reason.JWKS_UNAVAILABLE and len(fetcher.calls) == 1
    fetcher.down = False
    soon = NOW + timedelta(seconds=9)
    again = idp.token(token_request(sign_assertion(keys.ec, jti="2", now=soon)), now=soon)
    assert again.reason is Reason.JWKS_UNAVAILABLE and len(fetcher.calls) == 1
    later = NOW + timedelta(seconds=10)
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="3", now=later)), now=later))
    assert len(fetcher.calls) == 2


def test_jku_equal_to_the_registered_url_is_accepted(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp(fetcher=FakeFetcher(public_set(keys.ec)))
    granted(idp.token(token_request(sign_assertion(keys.ec, header={"jku": JWKS_URL})), now=NOW))


def test_replaced_keys_take_effect_at_once(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    idp.replace_keys(CLIENT, jwks=public_set(keys.stranger), now=NOW)
    granted(idp.token(token_request(sign_assertion(keys.stranger, jti="n")), now=NOW))
    assert idp.token(token_request(sign_assertion(keys.ec, jti="o")), now=NOW).reason is (
        Reason.ASSERTION_SIGNATURE_INVALID
    )


def test_a_busy_client_is_refused_rather_than_made_replayable(
    make_idp: MakeIdp, keys: Keys
) -> None:
    idp = make_idp(IdpSettings(replay_per_issuer=2))
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="1")), now=NOW))
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="2")), now=NOW))
    full = idp.token(token_request(sign_assertion(keys.ec, jti="3")), now=NOW)
    assert (full.error, full.reason) == (OAuthError.INVALID_CLIENT, Reason.ASSERTION_RATE_EXCEEDED)
    later = NOW + timedelta(minutes=5)
    granted(idp.token(token_request(sign_assertion(keys.ec, jti="3", now=later)), now=later))


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_client_secret_basic_mode(make_idp: MakeIdp, keys: Keys) -> None:
    from testbed.smart import ClientAuth

    idp = make_idp(IdpSettings(client_auth=ClientAuth.CLIENT_SECRET_BASIC), secret="s3cret")
    ok = idp.token(token_request(None, authorization=_basic(CLIENT, "s3cret")), now=NOW)
    granted(ok)
    again = idp.token(token_request(None, authorization=_basic(CLIENT, "s3cret")), now=NOW)
    granted(again)  # a shared secret replays: the design's weakness, measured elsewhere
    cases = [
        (token_request(None, authorization=_basic(CLIENT, "wrong")),
         OAuthError.INVALID_CLIENT, Reason.CLIENT_SECRET_INVALID),
        (token_request(None, authorization=_basic("nobody", "s3cret")),
         OAuthError.INVALID_CLIENT, Reason.CLIENT_UNKNOWN),
        (token_request(None), OAuthError.INVALID_CLIENT, Reason.CLIENT_AUTH_METHOD_REFUSED),
        (token_request(sign_assertion(keys.ec)),
         OAuthError.INVALID_CLIENT, Reason.CLIENT_AUTH_METHOD_REFUSED),
        (token_request(None, authorization="Basic !!!"),
         OAuthError.INVALID_CLIENT, Reason.CLIENT_AUTH_METHOD_REFUSED),
    ]  # fmt: skip
    for request, error, reason in cases:
        response = idp.token(request, now=NOW)
        assert (response.error, response.reason) == (error, reason)
        assert ("WWW-Authenticate", 'Basic realm="token"') in response.headers


def test_a_secret_client_cannot_use_an_assertion_in_jwt_mode(make_idp: MakeIdp, keys: Keys) -> None:
    idp = make_idp()
    idp.register("c2", device_id="dev-2", scopes="system/Observation.rs", secret="x", now=NOW)
    claims = {"iss": "c2", "sub": "c2"}
    response = idp.token(token_request(sign_assertion(keys.ec, claims=claims)), now=NOW)
    assert response.reason is Reason.CLIENT_AUTH_METHOD_REFUSED


def test_refusal_events_name_the_device_only_for_a_registered_client(
    make_idp: MakeIdp, keys: Keys
) -> None:
    log = EventLog()
    idp = make_idp(log=log)
    idp.token(token_request(sign_assertion(keys.stranger)), now=NOW)
    idp.token(
        token_request(sign_assertion(keys.ec, claims={"iss": "x" * 500, "sub": "x" * 500})), now=NOW
    )
    first, second = log.of_kind(EventKind.TOKEN_REFUSED)
    assert (first.subject, first.data["authenticated"]) == (DEVICE, False)
    assert second.subject == "(unauthenticated)" and second.data["client_id"] == "x" * 64
