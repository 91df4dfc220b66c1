"""Steps several checks share: enroll a fresh instance, read what the device answered.

A step that does not happen raises :class:`~testbed.certify.checks.NotMet`, so the
check fails saying which step and what the device said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from testbed.certify.adapter import Action, Exchange
from testbed.certify.checks import CheckRun, NotMet
from testbed.certify.session import Instance

__all__ = [
    "Enrolled",
    "did",
    "enroll",
    "enrolled",
    "public_der",
    "read_certificate",
    "smart_enrolled",
    "status",
]


def read_certificate(value: object) -> x509.Certificate | None:
    """The first certificate of the PEM file at ``value`` (None if it holds none)."""
    try:
        return x509.load_pem_x509_certificates(Path(str(value)).read_bytes())[0]
    except (OSError, ValueError, IndexError):
        return None


def public_der(certificate: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo (DER)."""
    return certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def did(exchange: Exchange, what: str) -> None:
    """Raise :class:`NotMet` unless the device did ``what`` (exit 0)."""
    if not exchange.succeeded:
        said = exchange.stderr or exchange.stdout or "nothing on standard error"
        raise NotMet(f"{what}: the device answered exit {exchange.exit} ({said})")


class Enrolled:
    """An instance the device enrolled, and the certificate it got."""

    def __init__(self, instance: Instance, certificate: x509.Certificate,
                 answer: dict[str, Any]) -> None:  # fmt: skip
        self.instance = instance
        self.certificate = certificate
        self.answer = answer

    @property
    def serial(self) -> str:
        """The certificate's serial (lower-case hex, as the audit log writes it)."""
        return f"{self.certificate.serial_number:x}"


def enrolled(run: CheckRun, label: str) -> Enrolled:
    """Register a fresh instance and have the device enroll it (a precondition)."""
    return enroll(run, run.instance(label))


def smart_enrolled(run: CheckRun, label: str) -> Enrolled | None:
    """A fresh instance with a SMART client: the device's public keys (``keys``, the
    kit's addition to the protocol) registered with it, and enrolled; None when the
    profile does not use the EHR (no SMART client was registered)."""
    session = run.session
    workdir = session.workdir(label)
    keys = run.call_at(workdir, Action.KEYS)
    did(keys, "precondition: keys (the device's public JWK Set)")
    instance = session.new_instance(label, jwks=dict((keys.response or {})["jwks"]))
    run.note(f"registered {instance.device_id} at {instance.site}/{instance.zone} with the "
             "JWK Set the device answered")  # fmt: skip
    if instance.smart is None:
        return None
    return enroll(run, instance)


def enroll(run: CheckRun, instance: Instance) -> Enrolled:
    """Have the device enroll ``instance`` (a precondition)."""
    mark = run.mark()
    exchange = run.call(instance, Action.ENROLL, **run.session.enroll_request(instance))
    run.events(mark, kind="certificate-issued", subject=instance.device_id)
    did(exchange, "precondition: bootstrap enrollment")
    answer = dict(exchange.response or {})
    certificate = read_certificate(answer["certificate"])
    if certificate is None:
        raise NotMet(f"precondition: {answer['certificate']!r} holds no PEM certificate")
    return Enrolled(instance, certificate, answer)


def status(run: CheckRun, instance: Instance) -> dict[str, Any]:
    """The device's ``status`` answer (a precondition: it must answer)."""
    exchange = run.call(instance, Action.STATUS)
    did(exchange, "status")
    return dict(exchange.response or {})
