"""The PACS-side trust checks, each one or a few associations over TLS (pynetdicom).

A check that expects a refusal passes when the association is not established (TLS
handshake failed, A-ASSOCIATE-RJ, abort, closed) or its C-ECHO is not answered
success.  ``baseline`` (the enrolled device is accepted) runs first: without it the
refusals would prove nothing, and every other check fails with that reason.

| check                    | presented                                         | expected |
|--------------------------|---------------------------------------------------|----------|
| baseline                 | the enrolled device, its own AE title             | accepted |
| revoked-refused          | a revoked device (listed on the CRL)              | refused  |
| expired-refused          | the device's subject and key, expired yesterday   | refused  |
| unknown-ca-refused       | the device's subject from a CA nobody trusts      | refused  |
| no-client-cert-refused   | no client certificate                             | refused  |
| tls10-refused            | TLS 1.0 only (any suite)                          | refused  |
| tls11-refused            | TLS 1.1 only (any suite)                          | refused  |
| ae-not-allowed-refused   | the device's certificate, an AE title on no list  | refused  |
| other-device-ae-refused  | the device's certificate, another device's title  | refused  |
| stored-found-again       | C-STORE, then C-FIND (IMAGE) by SOP Instance UID  | 1 match  |
| no-duplicate             | the same instance stored twice, then C-FIND       | 1 match  |
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association

from testbed.live.pacs_check.credentials import Credentials, Identity
from testbed.pacs.dataset import minimal_image, part10

__all__ = ["CHECKS", "Outcome", "Target", "run_checks"]

_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Query/Retrieve - FIND
_VERIFICATION = "1.2.840.10008.1.1"
_CHECK_AE = "PCHKNOTLISTED"


@dataclass(frozen=True, slots=True)
class Target:
    """The acceptor under test."""

    host: str
    port: int
    called_ae: str
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's result: passed, what was seen, and the time it took."""

    id: str
    description: str
    passed: bool
    observed: str
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Tls:
    """A client TLS setup: identity (None: no certificate) and versions."""

    identity: Identity | None
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None


def _context(credentials: Credentials, tls: _Tls) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # loopback peers: an IP address; the chain is checked
    context.load_verify_locations(cafile=str(credentials.bundle))
    if tls.versions is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version, context.maximum_version = tls.versions
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if tls.identity is not None:
        context.load_cert_chain(str(tls.identity.cert), str(tls.identity.key))
    return context


@contextlib.contextmanager
def _association(
    target: Target, credentials: Credentials, tls: _Tls, calling_ae: str, contexts: tuple[str, ...]
) -> Iterator[Association | str]:
    """An association (or why there is none), released or aborted afterwards."""
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = target.timeout
    for uid in contexts:
        ae.add_requested_context(uid)
    try:
        context = _context(credentials, tls)
    except (ssl.SSLError, ValueError) as error:
        yield f"client TLS setup refused: {error}"
        return
    bind = (credentials.source or "", 0)
    assoc = ae.associate(target.host, target.port, ae_title=target.called_ae,
                         tls_args=(context, target.host), bind_address=bind)  # fmt: skip
    try:
        if assoc.is_established:
            yield assoc
        elif assoc.is_rejected:
            yield "A-ASSOCIATE-RJ"
        elif assoc.is_aborted:
            yield "aborted"
        else:
            yield "no association (TLS or connection refused)"
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def _echo(target: Target, credentials: Credentials, tls: _Tls, calling_ae: str) -> str:
    """``accepted`` when the association is established and C-ECHO answers success."""
    with _association(target, credentials, tls, calling_ae, (_VERIFICATION,)) as assoc:
        if isinstance(assoc, str):
            return f"refused: {assoc}"
        status = assoc.send_c_echo()
        code = getattr(status, "Status", None)
        if code == 0:
            return "accepted"
        return f"refused: C-ECHO status {code}" if code is not None else "refused: no answer"


def _instance(study: str, number: int) -> Dataset:
    ds = minimal_image(CTImageStorage)
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = f"{study}.1"
    ds.SOPInstanceUID = f"{study}.1.{number}"
    ds.PatientID = "PACS-CHECK"
    ds.PatientName = "Check^Pacs"
    return part10(ds, ImplicitVRLittleEndian)


def _store_and_find(
    target: Target, credentials: Credentials, times: int
) -> tuple[list[int | None], int | None, str]:
    """Store one new instance ``times`` times (one association each), then C-FIND it:
    the store statuses, the number of matches (None: no C-FIND), and a note."""
    study = f"2.25.{uuid.uuid4().int}"[:60]
    dataset = _instance(study, 1)
    tls, good = _Tls(credentials.good), credentials.good
    statuses: list[int | None] = []
    for _ in range(times):
        with _association(target, credentials, tls, good.ae_title, (CTImageStorage,)) as assoc:
            if isinstance(assoc, str):
                statuses.append(None)
                continue
            answer = assoc.send_c_store(dataset)
            statuses.append(getattr(answer, "Status", None))
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = study
    query.SeriesInstanceUID = ""
    query.SOPInstanceUID = dataset.SOPInstanceUID
    with _association(target, credentials, tls, good.ae_title, (_FIND,)) as assoc:
        if isinstance(assoc, str):
            return statuses, None, f"C-FIND association {assoc}"
        if not any(cx.abstract_syntax == _FIND for cx in assoc.accepted_contexts):
            return statuses, None, "the acceptor offers no C-FIND (Study Root)"
        matches = 0
        final: int | None = None
        for status, identifier in assoc.send_c_find(query, _FIND):
            code = getattr(status, "Status", None)
            if code in (0xFF00, 0xFF01) and identifier is not None:
                matches += 1
            else:
                final = code
        note = "" if final == 0 else f"C-FIND final status {final}"
        return statuses, matches, note


Check = Callable[[Target, Credentials], tuple[bool, str]]


def _refused(identity: Callable[[Credentials], Identity | None], ae: Callable[[Credentials], str],
             versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None) -> Check:  # fmt: skip
    def check(target: Target, credentials: Credentials) -> tuple[bool, str]:
        seen = _echo(target, credentials, _Tls(identity(credentials), versions), ae(credentials))
        return seen.startswith("refused"), seen

    return check


def _baseline(target: Target, credentials: Credentials) -> tuple[bool, str]:
    seen = _echo(target, credentials, _Tls(credentials.good), credentials.good.ae_title)
    return seen == "accepted", seen


def _found_again(target: Target, credentials: Credentials) -> tuple[bool, str]:
    statuses, matches, note = _store_and_find(target, credentials, 1)
    seen = f"C-STORE {_codes(statuses)}; C-FIND matches {matches}" + (f"; {note}" if note else "")
    return statuses == [0] and matches == 1, seen


def _no_duplicate(target: Target, credentials: Credentials) -> tuple[bool, str]:
    statuses, matches, note = _store_and_find(target, credentials, 2)
    seen = f"C-STORE {_codes(statuses)}; C-FIND matches {matches}" + (f"; {note}" if note else "")
    return statuses == [0, 0] and matches == 1, seen


def _codes(statuses: list[int | None]) -> str:
    return ", ".join("none" if s is None else f"0x{s:04X}" for s in statuses)


_TLS10 = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1)
_TLS11 = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("baseline", "the enrolled device is accepted", _baseline),
    ("revoked-refused", "a revoked certificate is refused",
     _refused(lambda c: c.revoked, lambda c: c.revoked.ae_title)),
    ("expired-refused", "an expired certificate is refused",
     _refused(lambda c: c.expired, lambda c: c.good.ae_title)),
    ("unknown-ca-refused", "a certificate from an unknown CA is refused",
     _refused(lambda c: c.unknown_ca, lambda c: c.good.ae_title)),
    ("no-client-cert-refused", "a peer without a client certificate is refused",
     _refused(lambda c: None, lambda c: c.good.ae_title)),
    ("tls10-refused", "TLS 1.0 is refused",
     _refused(lambda c: c.good, lambda c: c.good.ae_title, _TLS10)),
    ("tls11-refused", "TLS 1.1 is refused",
     _refused(lambda c: c.good, lambda c: c.good.ae_title, _TLS11)),
    ("ae-not-allowed-refused", "an AE title on no allow-list is refused",
     _refused(lambda c: c.good, lambda c: _CHECK_AE)),
    ("other-device-ae-refused", "another device's AE title is refused",
     _refused(lambda c: c.good, lambda c: c.other.ae_title)),
    ("stored-found-again", "a stored instance is found again (C-FIND)", _found_again),
    ("no-duplicate", "a repeated SOP Instance UID is kept once", _no_duplicate),
)  # fmt: skip


def run_checks(target: Target, credentials: Credentials) -> list[Outcome]:
    """Every check, in order (the baseline first)."""
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # the report says it all
    outcomes: list[Outcome] = []
    for check_id, description, check in CHECKS:
        start = time.perf_counter()
        try:
            passed, observed = check(target, credentials)
        except (OSError, RuntimeError, ValueError) as error:
            passed, observed = False, f"error: {error}"
        outcome = Outcome(check_id, description, passed, observed, time.perf_counter() - start)
        outcomes.append(outcome)
    baseline = outcomes[0]
    if not baseline.passed:  # a refusal proves nothing when everything is refused
        outcomes = [baseline] + [
            Outcome(o.id, o.description, False, f"baseline failed ({baseline.observed}); "
                    f"{o.observed}", o.seconds) for o in outcomes[1:]
        ]  # fmt: skip
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts of passed and failed checks and the failed ids."""
    failed = [o.id for o in outcomes if not o.passed]
    return {"checks": len(outcomes), "passed": len(outcomes) - len(failed), "failed": failed}
