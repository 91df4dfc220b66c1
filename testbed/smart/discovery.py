"""The IdP's ``/.well-known/smart-configuration`` document (SMART App Launch 2.2,
"Conformance": the fields a backend-services client reads)."""

from __future__ import annotations

from typing import Any

from testbed.smart.assertion import SMART_ALGORITHMS
from testbed.smart.settings import ClientAuth, IdpSettings

__all__ = ["smart_configuration"]


def smart_configuration(
    *,
    issuer: str,
    token_url: str,
    jwks_url: str,
    introspection_url: str,
    settings: IdpSettings,
) -> dict[str, Any]:
    """The discovery document for an IdP with ``settings`` at these URLs."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_url,
        "token_endpoint": token_url,
        "introspection_endpoint": introspection_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": [settings.client_auth.value],
        "token_endpoint_auth_signing_alg_values_supported": list(SMART_ALGORITHMS),
        "scopes_supported": ["system/*.cruds", "system/*.rs"],
        "capabilities": ["client-confidential-asymmetric"]
        if settings.client_auth is ClientAuth.PRIVATE_KEY_JWT
        else ["client-confidential-symmetric"],
        "tls_client_certificate_bound_access_tokens": settings.certificate_bound,
    }
