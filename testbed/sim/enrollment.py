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
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.context import SimContext

__all__ = ["enroll", "reenroll"]

PKCS10 = "application/pkcs10"


def _csr_body(sim: SimContext, agent: DeviceAgent, *, new_key: bool) -> bytes:
    """The CSR the device sends (as the run's fidelity level makes it)."""
    if new_key and agent.next_key is not None:
        return _prepared_body(sim, agent, agent.next_key)
    artefacts = sim.hospital.ca.artefacts
    if agent.key is None or new_key:
        agent.key = artefacts.new_key(agent.record.certificate_type, sim.rng)
    return artefacts.request(agent.key, agent.device_id)


def _prepared_body(sim: SimContext, agent: DeviceAgent, prepared: NextKey) -> bytes:
    """The CSR of the device's prepared next key (made once: retries send it again)."""
    if prepared.body is None:
        artefacts = sim.hospital.ca.artefacts
        key = artefacts.key_from_scalar(agent.record.certificate_type, prepared.scalar)
        prepared.body = artefacts.request(key, agent.device_id)
        # the private key stays with the device's key store; nothing in the
        # simulation signs with it after its CSR is made
        agent.key = None
    return prepared.body


def _prepare_next_key(sim: SimContext, agent: DeviceAgent) -> None:
    """Draw the device's next key now (its CSR is made at its renewal)."""
    profile = agent.profile
    key_type = agent.record.certificate_type
    rotates = profile.supports_est and profile.rotates_key_on_renewal
    if not rotates or key_type not in EC_KEY_TYPES:
        agent.next_key = None
        return
    agent.next_key = NextKey(new_key_scalar(key_type, sim.rng))


def _draw_first_key(sim: SimContext, agent: DeviceAgent) -> None:
    """Draw the key of the device's first enrollment, kept across its retries (an RSA
    key is not seed-derived: it is made when needed)."""
    if agent.next_key is None and agent.record.certificate_type in EC_KEY_TYPES:
        agent.next_key = NextKey(new_key_scalar(agent.record.certificate_type, sim.rng))


def _install(sim: SimContext, agent: DeviceAgent, response: EstResponse) -> None:
    agent.certificate = response.certificate
    agent.notify(sim.env)
    if agent.certificate is not None:
        _prepare_next_key(sim, agent)


def _manual(sim: SimContext, agent: DeviceAgent, *, renewal: bool) -> EstResponse:
    """An operator issues the certificate out of band (no EST on the device).

    An operator who finds the CA down records it (one manual step, one refusal
    event) and waits for the CA: the checks until they find it back up are not
    further steps (two outages with no check in between are one wait).
    """
    unavailable = EstResponse(503, (), b"", Reason.CA_UNAVAILABLE, agent.device_id, None)
    ca_down = sim.hospital.ca_outages.down(agent.record.site)
    if ca_down and agent.awaiting_ca:
        return unavailable
    sim.metrics.manual_steps += 1
    if ca_down:
        agent.awaiting_ca = True
        sim.metrics.operator_refusals += 1
        sim.log.emit(
            sim.now(),
            EventKind.ENROLLMENT_REFUSED,
            agent.device_id,
            endpoint="manual",
            status=503,
            reason=Reason.CA_UNAVAILABLE.value,
        )
        return unavailable
    agent.awaiting_ca = False
    body = _csr_body(sim, agent, new_key=renewal and agent.profile.rotates_key_on_renewal)
    basic = agent.bootstrap if not renewal else None
    if renewal:
        return sim.hospital.est.simplereenroll(
            body, content_type=PKCS10, client_cert=agent.certificate, now=sim.now()
        )
    return sim.hospital.est.simpleenroll(
        body, content_type=PKCS10, basic=basic, client_cert=None, now=sim.now()
    )


def enroll(sim: SimContext, agent: DeviceAgent) -> Generator[Any, Any, None]:
    """First enrollment with the bootstrap secret; waits out outages and approval."""
    pki = sim.pki
    if not agent.profile.supports_est:
        yield sim.env.timeout(pki.manual_enrollment_delay.total_seconds())
    else:
        _draw_first_key(sim, agent)
    while True:
        if agent.retired:
            return
        if agent.profile.supports_est:
            body = _csr_body(sim, agent, new_key=True)
            response = sim.hospital.est.simpleenroll(
                body, content_type=PKCS10, basic=agent.bootstrap, client_cert=None, now=sim.now()
            )
        else:
            agent.key = None
            response = _manual(sim, agent, renewal=False)
        if response.status == 200:
            _install(sim, agent, response)
            sim.metrics.enrollments += 1
            return
        yield sim.env.timeout(_wait_after(sim, response))


def reenroll(sim: SimContext, agent: DeviceAgent) -> EstResponse:
    """One renewal attempt with the current certificate (RFC 7030 §4.2.2)."""
    if not agent.profile.supports_est:
        response = _manual(sim, agent, renewal=True)
    else:
        body = _csr_body(sim, agent, new_key=agent.profile.rotates_key_on_renewal)
        response = sim.hospital.est.simplereenroll(
            body, content_type=PKCS10, client_cert=agent.certificate, now=sim.now()
        )
    if response.status == 200:
        _install(sim, agent, response)
    return response


def _wait_after(sim: SimContext, response: EstResponse) -> float:
    for name, value in response.headers:
        if name.lower() == "retry-after":
            return float(value)
    return sim.pki.renewal_retry.total_seconds()
