"""SMART Backend Services: the identity provider core and the resource server's token check.

No I/O: every call takes a parsed request and the time (docs/smart.md).

- :mod:`~testbed.smart.scopes`: system scopes (v1 and v2) and scope mediation;
- :mod:`~testbed.smart.jwks`: client key sets, inline or by URL, and their fetch policy;
- :mod:`~testbed.smart.assertion`: ``private_key_jwt`` client assertion checks;
- :mod:`~testbed.smart.replay`: the ``jti`` replay cache;
- :mod:`~testbed.smart.clients`: registered clients and their states;
- :mod:`~testbed.smart.tokens`: the IdP's signing keys (rotation) and issued tokens;
- :mod:`~testbed.smart.settings`: the design's choices (client authentication, binding);
- :mod:`~testbed.smart.refusals`: RFC 6749 errors;
- :mod:`~testbed.smart.idp`: the identity provider (token endpoint, introspection);
- :mod:`~testbed.smart.relying`: a relying party's cached copy of the IdP's JWKS;
- :mod:`~testbed.smart.verifier`: the resource server's token check.
"""

from __future__ import annotations

from testbed.smart.assertion import ASSERTION_TYPE, AssertionRules
from testbed.smart.clients import ClientState, SmartClient
from testbed.smart.idp import IdentityProvider, TokenRequest, TokenResponse
from testbed.smart.jwks import Fetched, FetchPolicy, JwksError
from testbed.smart.refusals import OAuthError
from testbed.smart.relying import IdpJwksCache
from testbed.smart.scopes import Scope, ScopeError, mediate, parse_scopes
from testbed.smart.settings import ClientAuth, IdpSettings
from testbed.smart.verifier import TokenCheck, TokenVerifier

__all__ = [
    "ASSERTION_TYPE",
    "AssertionRules",
    "ClientAuth",
    "ClientState",
    "FetchPolicy",
    "Fetched",
    "IdentityProvider",
    "IdpJwksCache",
    "IdpSettings",
    "JwksError",
    "OAuthError",
    "Scope",
    "ScopeError",
    "SmartClient",
    "TokenCheck",
    "TokenRequest",
    "TokenResponse",
    "TokenVerifier",
    "mediate",
    "parse_scopes",
]
