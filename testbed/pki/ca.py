"""The hospital's certificate authority: one root, issuing CAs, leaf issuance.

The root signs one issuing CA for the whole hospital (:attr:`IssuingMode.CENTRAL`) or
one per site (:attr:`IssuingMode.PER_SITE`).  Issuing keys rotate by generation under
the same root.  Every leaf carries its ownership metadata in an
:class:`IssuanceRecord` (who asked, for which device and services, what happens at
expiry), after the SPIFFE model: exactly one URI SAN per workload, non-CA leaf.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from testbed.errors import PkiError
from testbed.pki.fidelity import Artefacts, LeafCertificate, LeafTemplate, SubjectKey
from testbed.pki.full import FullArtefacts
from testbed.pki.issuance import IssuanceRecord, IssuingCA, Revocation
from testbed.pki.issuing_mode import IssuingMode
from testbed.pki.keys import (
    KeyType,
    checked_csr_key,
    new_private_key,
    new_serial_number,
    signature_hash,
)
from testbed.pki.leaf_profile import key_usage, revocation_locations, spiffe_id
from testbed.pki.records import CaMaterial, CertificateRecords, MemoryRecords

__all__ = [
    "ISSUING_LIFETIME",
    "CertificateAuthority",
    "IssuanceRecord",
    "IssuingCA",
    "IssuingMode",
    "Revocation",
]

_CENTRAL = "central"

ISSUING_LIFETIME = timedelta(days=1825)
"""How long an issuing CA certificate lives (five years), unless the CA is told otherwise."""


def _cn(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _require_utc(now: datetime) -> None:
    if now.tzinfo is None:
        raise PkiError(f"time must be timezone-aware UTC, got naive {now!r}")


_CA_USAGE = key_usage(digital_signature=True, key_cert_sign=True)


class CertificateAuthority:
    """A root CA with central or per-site issuing CAs that issue device leaves.

    Keys and serial numbers come from ``rng`` when given (deterministic runs) and
    from the operating system otherwise.  Time is always passed in as ``now``.  Leaves
    are made by ``artefacts`` (:mod:`testbed.pki.fidelity`; real ones by default); the
    root and issuing CA certificates are real at every fidelity level.

    What the CA did is kept in ``records`` (:mod:`testbed.pki.records`; in memory by
    default).  Records that already hold a CA (a restarted live hospital) give it
    back: the same root, issuing generations, keys, leaves and revocations.
    """

    def __init__(
        self,
        *,
        name: str,
        trust_domain: str,
        sites: Sequence[str],
        issuing: IssuingMode,
        now: datetime,
        rng: random.Random | None,
        key_type: KeyType = KeyType.EC_P256,
        root_lifetime: timedelta = timedelta(days=3650),
        issuing_lifetime: timedelta = ISSUING_LIFETIME,
        backdate: timedelta = timedelta(minutes=1),
        artefacts: Artefacts | None = None,
        records: CertificateRecords | None = None,
    ) -> None:
        _require_utc(now)
        if not sites or len(set(sites)) != len(sites):
            raise PkiError(f"sites must be a non-empty list of distinct names, got {sites!r}")
        self.name = name
        self.trust_domain = trust_domain
        self.sites: tuple[str, ...] = tuple(sites)
        self.mode = IssuingMode(issuing)
        self.key_type = KeyType(key_type)
        self.issuing_lifetime = issuing_lifetime
        self.backdate = backdate
        self.artefacts: Artefacts = artefacts if artefacts is not None else FullArtefacts()
        self._rng = rng
        self._store: CertificateRecords = records if records is not None else MemoryRecords()
        self._records = self._store.records
        self._revocations = self._store.revocations  # a live view
        #: revocations made by this object: moves with every one (what the ground
        #: truth remembers of a serial, :class:`~testbed.oracle.Oracle`, may change)
        self.revocation_count = 0
        self._generations: dict[str | None, list[IssuingCA]] = {}
        self._by_name: dict[str, IssuingCA] = {}
        # per site: the CRL distribution point and OCSP extensions of its leaves
        self._locations: dict[str, tuple[x509.Extension[x509.ExtensionType], ...]] = {}
        kept = self._store.material()
        self._restored = kept is not None
        if kept is not None:
            self._root_key, self._root = kept.root_key, kept.root
            self._root_ski = x509.SubjectKeyIdentifier.from_public_key(kept.root_key.public_key())
            self._restore(kept)
            return
        self._root_key = new_private_key(self.key_type, rng)
        self._root = self._make_root(now, root_lifetime)
        self._store.save_root(self._root, self._root_key)
        self._root_ski = x509.SubjectKeyIdentifier.from_public_key(self._root_key.public_key())
        for scope in self._scopes():
            self._add_issuing(scope, generation=1, now=now, active_from=now)

    @property
    def restored(self) -> bool:
        """Whether this CA was given back by its records (not made anew)."""
        return self._restored

    def _restore(self, kept: CaMaterial) -> None:
        scopes = set(self._scopes())
        for issuing in kept.issuing:
            if issuing.site not in scopes:
                raise PkiError(
                    f"the kept issuing CA {issuing.name!r} serves {issuing.site!r}, not one "
                    f"of this CA's scopes {sorted(map(str, scopes))}"
                )
            self._generations.setdefault(issuing.site, []).append(issuing)
            self._by_name[issuing.name] = issuing
        if scopes - set(self._generations):
            raise PkiError(f"the kept CA has no issuing CA for {sorted(map(str, scopes))}")

    # -- construction -------------------------------------------------------

    def _scopes(self) -> tuple[str | None, ...]:
        return (None,) if self.mode is IssuingMode.CENTRAL else self.sites

    def _make_root(self, now: datetime, lifetime: timedelta) -> x509.Certificate:
        subject = _cn(f"{self.name} Root CA")
        public = self._root_key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(new_serial_number(self._rng))
            .not_valid_before(now - self.backdate)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        return builder.sign(self._root_key, signature_hash(self._root_key))

    def _add_issuing(
        self, scope: str | None, *, generation: int, now: datetime, active_from: datetime
    ) -> IssuingCA:
        label = scope if scope is not None else _CENTRAL
        name = f"{self.name} Issuing CA {label}-g{generation}"
        key = new_private_key(self.key_type, self._rng)
        not_after = min(now + self.issuing_lifetime, self._root.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_cn(name))
            .issuer_name(self._root.subject)
            .public_key(key.public_key())
            .serial_number(new_serial_number(self._rng))
            .not_valid_before(now - self.backdate)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._root_ski),
                critical=False,
            )
        )
        certificate = builder.sign(self._root_key, signature_hash(self._root_key))
        issuing = IssuingCA(name, scope, certificate, key, generation, active_from)
        self._store.save_issuing(issuing)
        self._generations.setdefault(scope, []).append(issuing)
        self._by_name[name] = issuing
        return issuing

    # -- issuing CAs --------------------------------------------------------

    @property
    def root(self) -> x509.Certificate:
        """The self-signed root certificate."""
        return self._root

    def _scope(self, site: str | None) -> str | None:
        if site is not None and site not in self.sites:
            raise PkiError(f"unknown site {site!r}; this CA serves {list(self.sites)}")
        if self.mode is IssuingMode.CENTRAL:
            return None
        if site is None:
            raise PkiError("a per-site CA needs a site; got None")
        return site

    def issuing_ca_for(self, site: str | None, *, now: datetime) -> IssuingCA:
        """The issuing CA that signs new leaves for ``site`` at ``now``.

        The newest generation whose ``active_from`` has come; the first one if none has.
        """
        generations = self._generations[self._scope(site)]
        active = [g for g in generations if g.active_from <= now]
        return active[-1] if active else generations[0]

    def issuing_cas(self, *, now: datetime | None = None) -> list[IssuingCA]:
        """Every issuing CA generation, oldest first; with ``now``, only unexpired ones."""
        every = [ca for scope in self._scopes() for ca in self._generations[scope]]
        if now is None:
            return every
        return [ca for ca in every if ca.certificate.not_valid_after_utc >= now]

    def issuing_ca(self, name: str) -> IssuingCA:
        """The issuing CA generation called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise PkiError(
                f"no issuing CA named {name!r}; known: {sorted(self._by_name)}"
            ) from None

    def rotate_issuing_key(
        self, *, site: str | None, now: datetime, overlap: timedelta
    ) -> IssuingCA:
        """Create the next generation for ``site`` (None: central), active after ``overlap``.

        The new CA is listed by :meth:`issuing_cas` at once, so trust bundles can carry
        it before it signs anything; :meth:`issuing_ca_for` switches at ``now + overlap``.
        """
        _require_utc(now)
        if overlap < timedelta(0):
            raise PkiError(f"overlap must not be negative, got {overlap}")
        scope = self._scope(site)
        generation = self._generations[scope][-1].generation + 1
        return self._add_issuing(scope, generation=generation, now=now, active_from=now + overlap)

    def publish_revocation_at(self, *, crl_by_site: Mapping[str, str], ocsp: str) -> None:
        """Name where relying parties fetch revocation status in every leaf from now on:
        the site's CRL (cRLDistributionPoints) and the OCSP responder
        (authorityInfoAccess), as live mode serves them (RFC 5280 §4.2.1.13, §4.2.2.1).
        """
        unknown = set(crl_by_site) - set(self.sites)
        if unknown or set(self.sites) - set(crl_by_site):
            raise PkiError(f"one CRL URL per site {list(self.sites)}, got {sorted(crl_by_site)}")
        for site, url in crl_by_site.items():
            self._locations[site] = revocation_locations(url, ocsp)

    # -- issuance -----------------------------------------------------------

    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        device_id: str,
        site: str,
        services: Sequence[str],
        requester: str,
        on_expiry: str,
        lifetime: timedelta,
        now: datetime,
        renewal_of: int | None = None,
    ) -> LeafCertificate:
        """Sign a leaf for ``device_id`` at ``site`` from a CSR and record its ownership.

        Raises :class:`CsrError` when the CSR's signature is invalid or its CN is not
        ``device_id``.  The subject and SANs come from the record, not from the CSR.
        """
        return self.issue_key(
            checked_csr_key(csr, device_id),
            device_id=device_id,
            site=site,
            services=services,
            requester=requester,
            on_expiry=on_expiry,
            lifetime=lifetime,
            now=now,
            renewal_of=renewal_of,
        )

    def issue_key(
        self,
        public: SubjectKey,
        *,
        device_id: str,
        site: str,
        services: Sequence[str],
        requester: str,
        on_expiry: str,
        lifetime: timedelta,
        now: datetime,
        renewal_of: int | None = None,
    ) -> LeafCertificate:
        """Sign a leaf for a public key whose possession a registration authority proved.

        The EST front end checks the CSR's signature (RFC 7030 §3.4 proof of
        possession) before it asks; checking it twice would only cost time.
        """
        if lifetime <= timedelta(0):
            raise PkiError(f"lifetime must be positive, got {lifetime}")
        issuing = self.issuing_ca_for(site, now=now)
        if issuing.certificate.not_valid_after_utc <= now:
            expired = issuing.certificate.not_valid_after_utc
            raise PkiError(f"the issuing CA {issuing.name!r} expired at {expired}; rotate it")
        record = self._record(
            issuing,
            device_id=device_id,
            site=site,
            requester=requester,
            services=services,
            on_expiry=on_expiry,
            lifetime=lifetime,
            now=now,
            renewal_of=renewal_of,
        )
        template = LeafTemplate(
            issuing, self.trust_domain, site, device_id, public, record.serial,
            record.not_before, record.not_after, self._locations.get(site, ()),
        )  # fmt: skip
        certificate = self.artefacts.sign_leaf(template)
        self._remember(record, certificate)
        return certificate

    def _record(
        self,
        issuing: IssuingCA,
        *,
        device_id: str,
        site: str,
        requester: str,
        services: Sequence[str],
        on_expiry: str,
        lifetime: timedelta,
        now: datetime,
        renewal_of: int | None,
    ) -> IssuanceRecord:
        """A new leaf's record, with a fresh serial: backdated, and never valid after
        its issuing CA (RFC 5280 §6.1.3 would reject the path from the CA's notAfter
        on anyway)."""
        not_after = min(now + lifetime, issuing.certificate.not_valid_after_utc)
        # whole seconds, as X.509 encodes them: the record says what the certificate says
        return IssuanceRecord(
            self._fresh_serial(), device_id, site, issuing.name,
            spiffe_id(self.trust_domain, site, device_id), requester, tuple(services),
            on_expiry, (now - self.backdate).replace(microsecond=0),
            not_after.replace(microsecond=0), renewal_of,
        )  # fmt: skip

    def _fresh_serial(self) -> int:
        serial = new_serial_number(self._rng)
        while serial in self._records:
            serial = new_serial_number(self._rng)
        return serial

    def _remember(self, record: IssuanceRecord, certificate: LeafCertificate) -> None:
        self._store.add(record, certificate)

    # -- records and revocation ---------------------------------------------

    @property
    def records(self) -> Mapping[int, IssuanceRecord]:
        """Every issuance record by serial (read-only view)."""
        return self._records

    def device_ids(self) -> set[str]:
        """Every device id the CA has issued a certificate to."""
        return self._store.device_ids()

    def record(self, serial: int) -> IssuanceRecord | None:
        """The issuance record of ``serial``, or None if this CA never issued it."""
        return self._records.get(serial)

    def records_for(self, device_id: str) -> list[IssuanceRecord]:
        """The issuance records of one device, oldest first."""
        return self._store.for_device(device_id)

    def certificate(self, serial: int) -> LeafCertificate:
        """The leaf certificate issued with ``serial``."""
        issued = self._store.certificate(serial)
        if issued is None:
            raise PkiError(f"serial {serial:#x} was not issued by {self.name!r}")
        return issued

    def is_issued(self, certificate: LeafCertificate) -> bool:
        """Whether this CA issued exactly this certificate (same serial and same bytes)."""
        issued = self._store.certificate(certificate.serial_number)
        return issued is certificate or issued == certificate

    def mark_used(self, serial: int) -> None:
        """Note that the leaf ``serial`` was presented (at an access point or to EST)."""
        if serial in self._records and not self._store.used(serial):
            self._store.mark_used(serial)

    def used(self, serial: int) -> bool:
        """Whether the leaf ``serial`` was ever presented (:meth:`mark_used`)."""
        return self._store.used(serial)

    def revoke(
        self,
        serial: int,
        *,
        now: datetime,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
    ) -> None:
        """Revoke an issued serial at ``now``.  Revoking again keeps the first revocation."""
        _require_utc(now)
        if serial not in self._records:
            raise PkiError(f"cannot revoke serial {serial:#x}: {self.name!r} never issued it")
        if serial not in self._revocations:
            self._store.revoke(Revocation(serial, now, reason))
            self.revocation_count += 1

    def revoked_at(self, serial: int) -> datetime | None:
        """When ``serial`` was revoked, or None if it is not revoked."""
        entry = self._revocations.get(serial)
        return entry.time if entry is not None else None

    @property
    def revocations(self) -> Mapping[int, Revocation]:
        """Every revocation by serial (read-only view)."""
        return self._store.revocations

    def last_crl(self, issuer: str) -> tuple[datetime, frozenset[int]] | None:
        """When the last CRL of ``issuer`` was signed and the serials it listed, if any."""
        return self._store.last_crl(issuer)

    def crl_signed(
        self,
        issuer: str,
        this_update: datetime,
        serials: frozenset[int],
        *,
        dropped: Iterable[int] = (),
    ) -> None:
        """Note a CRL of ``issuer`` signed at ``this_update`` listing ``serials``;
        ``dropped`` left the CRL on it, for good (:meth:`off_crl`)."""
        self._store.crl_signed(issuer, this_update, serials, dropped)

    def off_crl(self, issuer: str) -> Set[int]:
        """Revoked serials of ``issuer`` no longer listed: expired, and listed on a CRL
        signed after their expiry (RFC 5280 §3.3)."""
        return self._store.off_crl(issuer)

    def next_crl_number(self, issuer: str) -> int:
        """The next CRL number for an issuing CA (monotonically increasing, from 1)."""
        self.issuing_ca(issuer)
        return self._store.next_crl_number(issuer)
