"""The smart package's public names exist and are documented; discovery says the design."""

from __future__ import annotations

import inspect

import testbed.smart
from testbed.smart import ClientAuth, IdpSettings
from testbed.smart.discovery import smart_configuration


def test_every_public_name_exists_and_is_documented() -> None:
    assert list(testbed.smart.__all__) == sorted(testbed.smart.__all__)
    for name in testbed.smart.__all__:
        value = getattr(testbed.smart, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_discovery_follows_the_design() -> None:
    urls = {
        "issuer": "https://idp",
        "token_url": "https://idp/token",
        "jwks_url": "https://idp/jwks",
        "introspection_url": "https://idp/introspect",
    }
    default = smart_configuration(settings=IdpSettings(), **urls)
    assert default["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert default["capabilities"] == ["client-confidential-asymmetric"]
    assert default["token_endpoint_auth_signing_alg_values_supported"] == ["ES384", "RS384"]
    flat = smart_configuration(
        settings=IdpSettings(client_auth=ClientAuth.CLIENT_SECRET_BASIC, certificate_bound=True),
        **urls,
    )
    assert flat["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert flat["tls_client_certificate_bound_access_tokens"] is True
