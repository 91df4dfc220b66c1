"""What a transport may fetch ahead of a token request: the JWKS URL the IdP would
fetch now (testbed.live.jwks_fetch.OffLoopFetcher fetches it off the event loop)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from joserfc.jwk import ECKey

from testbed.live.jwks_fetch import OffLoopFetcher
from testbed.smart.jwks import Fetched, JwksError

from .conftest import (
    JWKS_URL,
    NOW,
    FakeFetcher,
    MakeIdp,
    granted,
    public_set,
    sign_assertion,
    token_request,
)


def test_the_url_is_due_until_fetched_then_while_its_max_age_runs_it_is_not(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    fetcher = FakeFetcher(public_set(ec_key), max_age=60)
    idp = make_idp(fetcher=fetcher)
    request = token_request(sign_assertion(ec_key))
    assert idp.jwks_due(request, now=NOW) == JWKS_URL
    granted(idp.token(request, now=NOW))
    assert idp.jwks_due(token_request(sign_assertion(ec_key, jti="j2")), now=NOW) is None
    later = NOW + timedelta(seconds=61)
    assert idp.jwks_due(token_request(sign_assertion(ec_key, now=later)), now=later) == JWKS_URL
    fetcher.down = True
    idp.token(token_request(sign_assertion(ec_key, now=later, jti="j3")), now=later)
    backing_off = token_request(sign_assertion(ec_key, now=later, jti="j4"))
    assert idp.jwks_due(backing_off, now=later) is None  # the failure backs off


def test_nothing_is_due_for_requests_that_name_no_url(make_idp: MakeIdp, ec_key: ECKey) -> None:
    inline = make_idp()  # the client registered its keys, not a URL
    assert inline.jwks_due(token_request(sign_assertion(ec_key)), now=NOW) is None
    by_url = make_idp(fetcher=FakeFetcher(public_set(ec_key)))
    assert by_url.jwks_due(token_request(None), now=NOW) is None
    assert by_url.jwks_due(token_request("not.a.jws"), now=NOW) is None
    stranger = sign_assertion(ec_key, claims={"iss": "client-nobody"})
    assert by_url.jwks_due(token_request(stranger), now=NOW) is None


def test_an_off_loop_fetch_is_handed_to_the_next_call_once() -> None:
    calls: list[str] = []

    def fetch(url: str) -> Fetched:
        calls.append(url)
        if url.endswith("bad"):
            raise JwksError(f"{url}: refused")
        return Fetched(b'{"keys": []}', 0)

    fetcher = OffLoopFetcher(fetch)
    try:
        asyncio.run(fetcher.prefetch("https://127.0.0.1/good"))
        asyncio.run(fetcher.prefetch("https://127.0.0.1/bad"))
        assert fetcher.ahead == 2 and len(calls) == 2
        assert fetcher("https://127.0.0.1/good").body == b'{"keys": []}'
        try:
            fetcher("https://127.0.0.1/bad")
        except JwksError as error:
            assert "refused" in str(error)
        else:
            raise AssertionError("the failure fetched ahead was not raised")
        assert len(calls) == 2  # both were taken from what was fetched ahead
        fetcher("https://127.0.0.1/good")  # nothing ahead now: fetched on this thread
        assert len(calls) == 3
        asyncio.run(fetcher.prefetch("https://127.0.0.1/good"))
        fetcher.discard("https://127.0.0.1/good")  # refused before its keys
        fetcher("https://127.0.0.1/good")
        assert len(calls) == 5
    finally:
        fetcher.close()
