"""How a simulated device obtains and renews its certificate: EST, or by hand.

An EST device sends what a real one sends (base64 DER PKCS#10 with the right media
type; at modeled fidelity a modeled CSR) to the same
:class:`~testbed.pki.est.EstService` the live HTTPS server wraps.
A device without EST (the legacy profile) is enrolled and renewed by an operator:
each such action is a manual step.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed.decisions import Reason
from testbed.events import EventKind
from testbed.pki.est import EstResponse
from testbed.pki.keys import EC_KEY_TYPES, new_key_scalar
from testbed.sim.agent import NextKey

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.sim.agent import DeviceAgent

__all__ = ["enroll", "reenroll"]

PKCS10 = "application/pkcs10"


def _csr_body(tb: Testbed, agent: DeviceAgent, *, new_key: bool) -> bytes:
    """The CSR the device sends (as the run's fidelity level makes it)."""
    if new_key and agent.next_key is not None:
        return _prepared_body(tb, agent, agent.next_key)
    artefacts = tb.hospital.ca.artefacts
    if agent.key is None or new_key:
        agent.key = artefacts.new_key(agent.record.certificate_type, tb.rng)
    return artefacts.request(agent.key, agent.device_id)


def _prepared_body(tb: Testbed, agent: DeviceAgent, prepared: NextKey) -> bytes:
    """The CSR of the device's prepared next key (made once: retries send it again)."""
    if prepared.body is None:
        artefacts = tb.hospital.ca.artefacts
        key = artefacts.key_from_scalar(agent.record.certificate_type, prepared.scalar)
        prepared.body = artefacts.request(key, agent.device_id)
        # the private key stays with the device's key store; nothing in the
        # simulation signs with it after its CSR is made
        agent.key = None
    return prepared.body


def _prepare_next_key(tb: Testbed, agent: DeviceAgent) -> None:
    """Draw the device's next key now (its CSR is made at its renewal)."""
    profile = agent.profile
    key_type = agent.record.certificate_type
    rotates = profile.supports_est and profile.rotates_key_on_renewal
    if not rotates or key_type not in EC_KEY_TYPES:
        agent.next_key = None
        return
    agent.next_key = NextKey(new_key_scalar(key_type, tb.rng))


def _draw_first_key(tb: Testbed, agent: DeviceAgent) -> None:
    """Draw the key of the device's first enrollment, kept across its retries (an RSA
    key is not seed-derived: it is made when needed)."""
    if agent.next_key is None and agent.record.certificate_type in EC_KEY_TYPES:
        agent.next_key = NextKey(new_key_scalar(agent.record.certificate_type, tb.rng))


def _install(tb: Testbed, agent: DeviceAgent, response: EstResponse) -> None:
    agent.certificate = response.certificate
    agent.notify(tb.env)
    if agent.certificate is not None:
        _prepare_next_key(tb, agent)


def _manual(tb: Testbed, agent: DeviceAgent, *, renewal: bool) -> EstResponse:
    """An operator issues the certificate out of band (no EST on the device).

    An operator who finds the CA down records it (one manual step, one refusal
    event) and waits for the CA: the checks until they find it back up are not
    further steps (two outages with no check in between are one wait).
    """
    unavailable = EstResponse(503, (), b"", Reason.CA_UNAVAILABLE, agent.device_id, None)
    ca_down = tb.hospital.ca_outages.down(agent.record.site)
    if ca_down and agent.awaiting_ca:
        return unavailable
    tb.metrics.manual_steps += 1
    if ca_down:
        agent.awaiting_ca = True
        tb.metrics.operator_refusals += 1
        tb.log.emit(
            tb.now(),
            EventKind.ENROLLMENT_REFUSED,
            agent.device_id,
            endpoint="manual",
            status=503,
            reason=Reason.CA_UNAVAILABLE.value,
        )
        return unavailable
    agent.awaiting_ca = False
    body = _csr_body(tb, agent, new_key=renewal and agent.profile.rotates_key_on_renewal)
    basic = agent.bootstrap if not renewal else None
    if renewal:
        return tb.hospital.est.simplereenroll(
            body, content_type=PKCS10, client_cert=agent.certificate, now=tb.now()
        )
    return tb.hospital.est.simpleenroll(
        body, content_type=PKCS10, basic=basic, client_cert=None, now=tb.now()
    )


def enroll(tb: Testbed, agent: DeviceAgent) -> Generator[Any, Any, None]:
    """First enrollment with the bootstrap secret; waits out outages and approval."""
    pki = tb.scenario.pki
    if not agent.profile.supports_est:
        yield tb.env.timeout(pki.manual_enrollment_delay.total_seconds())
    else:
        _draw_first_key(tb, agent)
    while True:
        if agent.retired:
            return
        if agent.profile.supports_est:
            body = _csr_body(tb, agent, new_key=True)
            response = tb.hospital.est.simpleenroll(
                body, content_type=PKCS10, basic=agent.bootstrap, client_cert=None, now=tb.now()
            )
        else:
            agent.key = None
            response = _manual(tb, agent, renewal=False)
        if response.status == 200:
            _install(tb, agent, response)
            tb.metrics.enrollments += 1
            return
        yield tb.env.timeout(_wait_after(tb, response))


def reenroll(tb: Testbed, agent: DeviceAgent) -> EstResponse:
    """One renewal attempt with the current certificate (RFC 7030 §4.2.2)."""
    if not agent.profile.supports_est:
        response = _manual(tb, agent, renewal=True)
    else:
        body = _csr_body(tb, agent, new_key=agent.profile.rotates_key_on_renewal)
        response = tb.hospital.est.simplereenroll(
            body, content_type=PKCS10, client_cert=agent.certificate, now=tb.now()
        )
    if response.status == 200:
        _install(tb, agent, response)
    return response


def _wait_after(tb: Testbed, response: EstResponse) -> float:
    for name, value in response.headers:
        if name.lower() == "retry-after":
            return float(value)
    return tb.scenario.pki.renewal_retry.total_seconds()
