"""Operator operations, written once: plain functions over a :class:`~testbed.hospital.Hospital`.

The simulation's injector and scheduled processes and live mode's admin API call these
same functions, so an operation changes the same state and writes the same events in
both transports.  Each returns what it did; one that finds nothing to do changes
nothing, writes nothing, and says so (False, or an empty tuple), so the simulation
counts no manual step for it and the admin API can answer 409.

- :func:`register` (seed §7 step 1), :func:`approve` (step 2), :func:`rebootstrap`;
- :func:`validate`, :func:`promote` (step 3: validated, then production);
- :func:`suspend`, :func:`resume` (an incident: a suspended device keeps its place on
  the PACS allow-lists, the PACS refuses it ``device-suspended``);
- :func:`revoke` (every live certificate of the device), :func:`offboard` (seed §2);
- :func:`rotate_ca_key`, :func:`publish_crls` (the CA's own);
- with an ``ehr:`` block (:mod:`testbed.clinical`): :func:`register` also registers
  the SMART client of a device whose profile uses the EHR and places it in the EHR's
  device registry (:func:`smart_enrollment` gives what it got); suspend, resume and
  offboard reach the identity provider; :func:`replace_jwks` (a device's key
  rotation), :func:`move_patient`, :func:`rotate_idp_key` (any overlap: the fault's),
  :func:`rollover_idp_key` (an operator's: the old key published at least a token
  lifetime, the hospital's EHRs told);
- :func:`hold_for_approval` (the next bootstrap enrollment waits for :func:`approve`).

Faults begun and healed now, live (the certification kit's), are
:mod:`testbed.fault_operations`.  Lifecycle transitions write their
``device-transition`` event in the inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from testbed.approval import approve_enrollment
from testbed.clock import isoformat
from testbed.errors import EhrError, RegistrationError
from testbed.events import AuditCode, EventKind
from testbed.lifecycle import DeviceState, LifecycleEvent
from testbed.offboard import Offboarding, offboard_device, revoke_device
from testbed.pki.ca import IssuingCA
from testbed.pki.renewal import OnExpiry
from testbed.pki.revocation import PublishedCrl, RevocationReason, build_crl

if TYPE_CHECKING:
    from testbed.clinical import Clinical, SmartEnrollment
    from testbed.devices import DeviceRecord
    from testbed.ehr.context import Move
    from testbed.hospital import Hospital

__all__ = [
    "IdpRollover",
    "approve",
    "current_crl",
    "deliver_trust",
    "hand_rotated_credential",
    "hand_shared_credential",
    "hold_for_approval",
    "move_patient",
    "offboard",
    "promote",
    "publish_crl",
    "publish_crls",
    "rebootstrap",
    "register",
    "replace_jwks",
    "resume",
    "revoke",
    "rollover_idp_key",
    "rotate_ca_key",
    "rotate_idp_key",
    "rotate_shared_credential",
    "smart_enrollment",
    "suspend",
    "validate",
]



def register(
    hospital: Hospital,
    record: DeviceRecord,
    *,
    jwks: Mapping[str, Any] | None = None,
    jwks_url: str | None = None,
) -> str:
    """Pre-register a device, admit it to the network, and set its one-time bootstrap
    secret (returned).  Pending manual approval when the scenario asks for it.

    In a hospital with an EHR, a device whose profile uses it also gets its SMART
    client (``jwks`` or ``jwks_url`` in ``private_key_jwt`` designs; its department's
    shared secret in ``client_secret_basic`` ones) and its place in the EHR's device
    registry: :func:`smart_enrollment` gives the client id, scopes and location.

    Raises :class:`~testbed.errors.RegistrationError` for a device already registered,
    or one that uses the EHR without the keys its design needs (nothing is changed).
    """
    profile = hospital.profiles[record.profile]
    clinical = hospital.clinical
    service = None if clinical is None else clinical.uses_ehr(record, profile)
    if clinical is not None and service is not None:
        clinical.check_credentials(record.device_id, jwks=jwks, jwks_url=jwks_url)
    pki = hospital.scenario.pki
    now = hospital.now()
    on_expiry = OnExpiry.RENEW_AUTOMATICALLY if profile.automated_renewal else (
        OnExpiry.RENEW_MANUALLY
    )
    hospital.allow_lists.check(record)  # before anything changes: a title held twice
    hospital.inventory.register(record, now=now, lifetime=profile.validity(pki.lifetime),
                                on_expiry=on_expiry, approved=not pki.manual_approval)  # fmt: skip
    hospital.allow_lists.add(record)  # its PACS know its AE title (testbed.dicom)
    password = hospital.new_secret()
    hospital.inventory.set_bootstrap(record.device_id, password)
    hospital.nac.admit(record.device_id)
    hospital.log.emit(now, EventKind.DEVICE_REGISTERED, record.device_id, site=record.site,
                      zone=record.zone, profile=record.profile, owner=record.owner,
                      services=",".join(record.intended_services), ae_title=record.ae_title,
                      audit_code=AuditCode.ATTACH.value)  # fmt: skip
    if clinical is not None and service is not None:
        clinical.enroll(record, service=service, now=now, jwks=jwks, jwks_url=jwks_url)
    return password


def hand_shared_credential(hospital: Hospital, device_id: str) -> str:
    """In a ``credentials: shared`` design: hand a registered device its department's
    shared credential (:mod:`testbed.network.shared`) instead of a certificate; its
    lifecycle's enroll step, with no CA.  Raises ``ValueError`` in other designs."""
    shared = hospital.shared
    if shared is None:
        raise ValueError("only a credentials: shared design hands out shared credentials")
    entry = hospital.inventory.entry(device_id)
    hospital.inventory.transition(device_id, LifecycleEvent.ENROLL, now=hospital.now())
    return shared.give(device_id, entry.record.owner)


def rotate_shared_credential(hospital: Hospital, department: str, *, why: str) -> str:
    """In a ``credentials: shared`` design: a new credential for ``department``, the old
    one refused from now on for every device still presenting it (the only way to take
    a department's credential from a retired, revoked or stolen device).  Each of the
    department's devices in service must then be given the new one by hand
    (:func:`hand_rotated_credential`).  One ``shared-credential-rotated`` event; the
    new credential.  Raises ``ValueError`` in other designs."""
    shared = hospital.shared
    if shared is None:
        raise ValueError("only a credentials: shared design has shared credentials to rotate")
    credential = shared.rotate(department)
    hospital.log.emit(hospital.now(), EventKind.SHARED_CREDENTIAL_ROTATED, department,
                      generation=shared.generation(department), why=why)  # fmt: skip
    return credential


def hand_rotated_credential(hospital: Hospital, device_id: str) -> str:
    """An operator gives a device in service its department's current shared credential
    after a rotation (a manual step); one ``shared-credential-handed`` event.  Raises
    ``ValueError`` in other designs."""
    shared = hospital.shared
    if shared is None:
        raise ValueError("only a credentials: shared design hands out shared credentials")
    department = hospital.inventory.entry(device_id).record.owner
    hospital.log.emit(hospital.now(), EventKind.SHARED_CREDENTIAL_HANDED, device_id,
                      department=department, generation=shared.generation(department))
    return shared.give(device_id, department)


def smart_enrollment(hospital: Hospital, device_id: str) -> SmartEnrollment | None:
    """The SMART client and EHR placement :func:`register` gave ``device_id`` (None:
    no EHR in this hospital, or the device does not use it)."""
    clinical = hospital.clinical
    return None if clinical is None else clinical.enrollments.get(device_id)


def _client(hospital: Hospital, device_id: str) -> Clinical | None:
    """The hospital's clinical services when ``device_id`` has a SMART client."""
    clinical = hospital.clinical
    if clinical is None or device_id not in clinical.enrollments:
        return None
    return clinical


def replace_jwks(
    hospital: Hospital,
    device_id: str,
    *,
    jwks: Mapping[str, Any] | None = None,
    jwks_url: str | None = None,
) -> None:
    """Replace a device's registered JWK Set or JWKS URL (the device rotated its
    key); raises :class:`~testbed.errors.RegistrationError` for a device without a
    SMART client, or without exactly one of the two."""
    clinical = _client(hospital, device_id)
    if clinical is None:
        raise RegistrationError(f"device {device_id!r} has no SMART client in this hospital")
    clinical.idp.replace_keys(device_id, now=hospital.now(), jwks=jwks, jwks_url=jwks_url)


def move_patient(hospital: Hospital, patient: str, to_location: str, *,
                 service: str | None = None) -> Move:  # fmt: skip
    """Move a patient to another Location (ids) in EHR ``service`` (None: the only
    one); raises :class:`~testbed.errors.EhrError` for an unknown patient or location,
    or a patient there already."""
    clinical = hospital.clinical
    if clinical is None:
        raise EhrError("this hospital has no EHR: its scenario has no 'ehr' block")
    if service is None:
        if len(clinical.ehrs) != 1:
            raise EhrError(f"name the EHR service: one of {sorted(clinical.ehrs)}")
        service = next(iter(clinical.ehrs))
    if service not in clinical.ehrs:
        raise EhrError(f"no EHR service {service!r}: one of {sorted(clinical.ehrs)}")
    return clinical.move_patient(service, patient, to_location, hospital.now())


def rotate_idp_key(hospital: Hospital, *, overlap: timedelta | None = None) -> str:
    """The IdP signs with a new key from now; the old one stays published for
    ``overlap`` (None: the scenario's ``ehr.key_overlap``).  Its new ``kid``."""
    clinical = hospital.clinical
    if clinical is None:
        raise EhrError("this hospital has no identity provider: no 'ehr' block")
    overlap = clinical.settings.key_overlap if overlap is None else overlap
    return clinical.idp.rotate_signing_key(now=hospital.now(), overlap=overlap)


@dataclass(frozen=True, slots=True)
class IdpRollover:
    """What an operator's IdP key rollover did: the new ``kid``, the keys that stay
    published only until ``retires`` (each kid), and the overlap."""

    kid: str
    retiring: tuple[str, ...]
    retires: datetime
    overlap: timedelta

    def answer(self) -> dict[str, Any]:
        """JSON-ready (the admin API's answer)."""
        return {"kid": self.kid, "retiring": list(self.retiring),
                "old_keys_published_until": isoformat(self.retires),
                "overlap_seconds": int(self.overlap.total_seconds())}  # fmt: skip


def rollover_idp_key(hospital: Hospital, *, overlap: timedelta | None = None) -> IdpRollover:
    """An operator rotates the IdP's signing key, the standard way (RFC 7517 key
    rollover as OpenID providers do it): new tokens are signed with the new key from
    now, and the old key stays in the JWKS for ``overlap`` (None: the scenario's
    ``ehr.key_overlap``), never less than the token lifetime, so every token it
    signed stays valid until it expires; the hospital's own relying parties (its
    EHRs' copies of the JWKS) are told at once, so new tokens verify at once.

    A relying party outside the hospital still refuses new tokens until its copy of
    the JWKS expires; the ``idp-key-rotation`` fault (:func:`rotate_idp_key`, any
    overlap, the EHR's copy held stale) is the abrupt form.  :class:`EhrError` for
    an overlap shorter than the token lifetime (tokens would be refused before they
    expire), or a hospital without an IdP.
    """
    clinical = hospital.clinical
    if clinical is None:
        raise EhrError("this hospital has no identity provider: its scenario has no "
                       "'ehr' block")  # fmt: skip
    lifetime = clinical.settings.token_lifetime
    if overlap is None:
        overlap = max(clinical.settings.key_overlap, lifetime)
    elif overlap < lifetime:
        raise EhrError(
            f"overlap: expected at least the token lifetime ({int(lifetime.total_seconds())}"
            f" s), got {int(overlap.total_seconds())} s: tokens signed with the old key "
            "would be refused before they expire"
        )
    now = hospital.now()
    retiring = tuple(k.kid for k in clinical.idp.signing_keys.published(now))
    kid = clinical.idp.rotate_signing_key(now=now, overlap=overlap)
    clinical.verifier.jwks.refresh()
    return IdpRollover(kid, retiring, now + overlap, overlap)


def approve(hospital: Hospital, device_id: str) -> bool:
    """Approve a pending enrollment; False when nothing was pending."""
    return approve_enrollment(
        device_id, inventory=hospital.inventory, log=hospital.log, now=hospital.now()
    )


def rebootstrap(hospital: Hospital, device_id: str) -> str | None:
    """A fresh one-time bootstrap secret (returned), so the device enrolls anew; the
    certificate it then gets supersedes any earlier one.  None for a retired device:
    offboarding took its bootstrap secret for good, and nothing is done."""
    if hospital.inventory.entry(device_id).state is DeviceState.RETIRED:
        return None
    password = hospital.new_secret()
    hospital.inventory.set_bootstrap(device_id, password)
    hospital.log.emit(hospital.now(), EventKind.POLICY_CHANGED, device_id,
                      change="re-bootstrap")  # fmt: skip
    return password


def _transition(hospital: Hospital, device_id: str, event: LifecycleEvent) -> bool:
    entry = hospital.inventory.entry(device_id)
    if not entry.lifecycle.allows(event):
        return False
    hospital.inventory.transition(device_id, event, now=hospital.now())
    return True


def validate(hospital: Hospital, device_id: str) -> bool:
    """Record that an enrolled device passed its pre-production validation (seed §7
    step 3); False in any other state."""
    return _transition(hospital, device_id, LifecycleEvent.VALIDATE)


def promote(hospital: Hospital, device_id: str) -> bool:
    """Route a validated device to production; False in any other state."""
    return _transition(hospital, device_id, LifecycleEvent.PROMOTE)


def suspend(hospital: Hospital, device_id: str) -> bool:
    """Suspend a device in production (an incident); False in any other state.  Its
    SMART client is suspended too: no token, and its tokens inactive at once."""
    if not _transition(hospital, device_id, LifecycleEvent.SUSPEND):
        return False
    clinical = _client(hospital, device_id)
    if clinical is not None:
        clinical.idp.suspend(device_id, now=hospital.now())
    return True


def resume(hospital: Hospital, device_id: str) -> bool:
    """Return a suspended device to production (and its SMART client); False in any
    other state."""
    if not _transition(hospital, device_id, LifecycleEvent.RESUME):
        return False
    clinical = _client(hospital, device_id)
    if clinical is not None:
        clinical.idp.resume(device_id, now=hospital.now())
    return True


def revoke(
    hospital: Hospital,
    device_id: str,
    *,
    reason: RevocationReason = RevocationReason.UNSPECIFIED,
    why: str = "operator revocation",
) -> tuple[int, ...]:
    """Revoke every live (unexpired, unrevoked) certificate of a registered device;
    relying parties see it once the CRLs are next published (:func:`publish_crls`).
    In a ``credentials: shared`` design the revocation is recorded, and, for a device
    that was handed the shared credential, audited as a ``shared-credential-kept``
    event: the credential cannot be revoked (the oracle counts what it still gets)."""
    entry = hospital.inventory.entry(device_id)  # raises for an unknown device
    shared = hospital.shared
    if shared is not None:
        now = hospital.now()
        shared.revoke(device_id, now=now)
        if shared.holds(device_id):
            hospital.log.emit(now, EventKind.SHARED_CREDENTIAL_KEPT, device_id, why=why,
                              reason=reason.value, department=entry.record.owner,
                              effect="none: the department's shared credential stays "
                                     "valid, for this device too")  # fmt: skip
    return revoke_device(device_id, ca=hospital.ca, log=hospital.log, now=hospital.now(),
                         why=why, reason=reason)  # fmt: skip


def offboard(hospital: Hospital, device_id: str) -> Offboarding:
    """The four offboarding steps (seed §2), and the device's AE title off every PACS's
    allow-list; raises for a device already retired.  Invalidating API access offboards
    the device's SMART client (no new token; every issued token inactive at once) and
    makes its EHR Device inactive."""
    now = hospital.now()
    clinical = _client(hospital, device_id)
    api_access = None
    if clinical is not None:
        found = clinical

        def api_access() -> str:
            found.idp.offboard(device_id, now=now)
            found.deactivate(device_id, now)
            return "SMART client offboarded (its tokens inactive); EHR Device inactive"

    done = offboard_device(device_id, ca=hospital.ca, inventory=hospital.inventory,
                           nac=hospital.nac, log=hospital.log, now=now,
                           api_access=api_access)  # fmt: skip
    hospital.allow_lists.remove(device_id)
    return done


def publish_crl(hospital: Hospital, issuing: IssuingCA) -> PublishedCrl:
    """Sign and publish a fresh CRL of one issuing CA."""
    now = hospital.now()
    crl = build_crl(hospital.ca, issuing, now=now,
                    next_update_after=hospital.scenario.pki.crl_validity)  # fmt: skip
    hospital.crls.publish(crl)
    hospital.log.emit(now, EventKind.CRL_PUBLISHED, issuing.name, entries=len(crl.serials),
                      next_update=isoformat(crl.next_update))  # fmt: skip
    return crl


def current_crl(hospital: Hospital, issuing: IssuingCA) -> PublishedCrl | None:
    """The issuing CA's current CRL, reissued first when none was published or
    ``pki.crl_interval`` has passed since the last one, if the CA is up.  A CA that is
    down signs nothing (as :func:`publish_crls`): relying parties keep its last CRL, or
    have none (None) for a generation made during the outage."""
    current = hospital.crls.current(issuing.name)
    if hospital.ca_outages.down(issuing.site):
        return current
    interval = hospital.scenario.pki.crl_interval
    if current is None or hospital.now() - current.this_update >= interval:
        return publish_crl(hospital, issuing)
    return current


def publish_crls(hospital: Hospital, *, site: str | None = None) -> list[PublishedCrl]:
    """Sign and publish a fresh CRL for every unexpired issuing CA generation that is
    up (only ``site``'s, if given).  An issuing CA that is down
    (:class:`~testbed.pki.outage.CaOutages`: the whole CA, or its site's) signs
    nothing: relying parties keep its last CRL, whichever transport asked."""
    published = []
    for issuing in hospital.ca.issuing_cas(now=hospital.now()):
        if site is not None and issuing.site != site:
            continue
        if hospital.ca_outages.down(issuing.site):
            continue
        published.append(publish_crl(hospital, issuing))
    return published


def rotate_ca_key(hospital: Hospital, *, site: str | None, overlap: timedelta) -> IssuingCA:
    """A new issuing CA generation for ``site`` (None: central), signing after
    ``overlap``; sent to every site's trust bundle now; CRLs republished."""
    now = hospital.now()
    new = hospital.ca.rotate_issuing_key(site=site, now=now, overlap=overlap)
    arrival = hospital.trust.publish(now=now)
    hospital.log.emit(now, EventKind.CA_KEY_ROTATED, new.name, site=site,
                      generation=new.generation, overlap_seconds=overlap.total_seconds(),
                      bundle_arrival=isoformat(arrival))  # fmt: skip
    publish_crls(hospital)
    return new


def deliver_trust(hospital: Hospital) -> dict[str, int]:
    """Push the trust bundles on their way to the sites now (an operator finishing a CA
    key rotation by hand, instead of waiting ``pki.trust_distribution_delay``): site ->
    the bundle version it now holds, one ``trust-bundle-updated`` event each."""
    now = hospital.now()
    delivered = hospital.trust.deliver_now(now=now)
    for site, bundle in delivered.items():
        hospital.log.emit(now, EventKind.TRUST_BUNDLE_UPDATED, site, version=bundle.version,
                          by="operator")  # fmt: skip
    return {site: bundle.version for site, bundle in delivered.items()}


def hold_for_approval(hospital: Hospital, device_id: str) -> bool:
    """Hold a registered device's next bootstrap enrollment for an operator's approval
    (EST answers 202 + Retry-After until :func:`approve`), even in a scenario without
    ``pki.manual_approval``; False when it was held already."""
    entry = hospital.inventory.entry(device_id)
    if not entry.approved:
        return False
    hospital.inventory.hold(device_id)
    hospital.log.emit(hospital.now(), EventKind.POLICY_CHANGED, device_id,
                      change="enrollment-held")  # fmt: skip
    return True
