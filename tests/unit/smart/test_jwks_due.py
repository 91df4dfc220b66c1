"""What a transport may fetch ahead of a token request: the JWKS URL the IdP would
fetch now (testbed.live.jwks_fetch.OffLoopFetcher fetches it off the event loop)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
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


def test_nothing_is_due_for_a_request_the_core_refuses_before_its_keys(
    make_idp: MakeIdp, ec_key: ECKey
) -> None:
    """A forged assertion naming the client in a request refused before any key is
    needed (its grant, its authentication method) makes no fetch ahead."""
    idp = make_idp(fetcher=FakeFetcher(public_set(ec_key)))
    assertion = sign_assertion(ec_key)
    assert idp.jwks_due(token_request(assertion), now=NOW) == JWKS_URL
    for refused in (token_request(assertion, form={"grant_type": "password"}),
                    token_request(assertion, form={"client_assertion_type": "x"}),
                    token_request(assertion, authorization="Basic eDp5"),
                    token_request(assertion, form={"client_secret": "s"})):  # fmt: skip
        assert idp.jwks_due(refused, now=NOW) is None
        assert not idp.token(refused, now=NOW).granted


def _fetch(calls: list[str], delay: float = 0.0) -> Callable[[str], Fetched]:
    def fetch(url: str) -> Fetched:
        calls.append(url)
        time.sleep(delay)
        if url.endswith("bad"):
            raise JwksError(f"{url}: refused")
        return Fetched(b'{"keys": []}', 0)

    return fetch


def test_an_outcome_fetched_ahead_is_what_the_core_gets_while_it_is_handed() -> None:
    calls: list[str] = []
    fetcher = OffLoopFetcher(_fetch(calls))
    good, bad = "https://127.0.0.1/good", "https://127.0.0.1/bad"
    try:
        outcome = asyncio.run(fetcher.prefetch(good))
        failure = asyncio.run(fetcher.prefetch(bad))
        assert fetcher.ahead == 2 and len(calls) == 2
        with fetcher.handing(good, outcome), fetcher.handing(bad, failure):
            assert fetcher(good).body == b'{"keys": []}'
            with pytest.raises(JwksError, match="refused"):
                fetcher(bad)
        assert len(calls) == 2  # both were the outcomes fetched ahead
        fetcher(good)  # nothing handed now: fetched on this thread
        assert len(calls) == 3
    finally:
        fetcher.close()


def test_requests_needing_one_url_at_once_share_one_fetch() -> None:
    calls: list[str] = []
    fetcher = OffLoopFetcher(_fetch(calls, delay=0.2))
    url = "https://127.0.0.1/slow"

    async def twelve() -> list[Fetched | JwksError]:
        return await asyncio.gather(*(fetcher.prefetch(url) for _ in range(12)))

    try:
        outcomes = asyncio.run(twelve())
        assert len(calls) == 1 and len({id(o) for o in outcomes}) == 1
        asyncio.run(fetcher.prefetch(url))  # the fetch is over: the next one fetches
        assert len(calls) == 2
    finally:
        fetcher.close()
