"""Live mode's durable identity provider and EHR: their state in ``hospital.db``.

What an answer promised survives ``kill -9`` (each change joins the transaction the
live server wraps around the answer, :mod:`testbed.live.store`):

::

    smart_clients    every SMART client: device, pre-authorized scopes, its public
                     keys (as JWKs) or JWKS URL or secret digest, algorithms, state
                     (active, suspended, offboarded)
    smart_keys       the IdP's signing keys (kid, created, retires); the private keys
                     are files in DIR/idp-keys/ (0700, files 0600), as the CA's are
    smart_tokens     issued tokens (jti, client, scope, expiry, certificate thumbprint):
                     what introspection and the EHR's token hop need
    smart_jtis       assertion ids the replay cache admitted, until they may be forgotten
    fhir_resources   every FHIR resource of every EHR service, in creation order, as
                     last changed (the census, Devices, writes, Provenance, AuditEvent)
    fhir_ids         per EHR service, how many resource ids it gave out

Expired tokens and ``jti`` values are dropped when the hospital is next opened.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from testbed.clinical import Clinical, SmartEnrollment
from testbed.clock import isoformat, parse_utc
from testbed.ehr.resources import SUPPORTED_TYPES
from testbed.ehr.store import Capacity
from testbed.errors import LiveError
from testbed.live.store_records import KeyFiles
from testbed.smart.clients import ClientState, SmartClient
from testbed.smart.journal import KeptIdp, KeptJti
from testbed.smart.jwks import ClientKey, parse_key_set
from testbed.smart.scopes import format_scopes, parse_scopes
from testbed.smart.tokens import IssuedToken, SigningKey

__all__ = [
    "CLINICAL_SCHEMA",
    "IDP_KEYS",
    "SqliteFhirJournal",
    "SqliteIdpJournal",
    "keep_clinical",
]

RESOURCE_TYPES = (*sorted(SUPPORTED_TYPES), "Organization")
"""Every type an EHR stores (the supported ones and its owners' Organizations)."""

IDP_KEYS = "idp-keys"
"""The directory of the IdP's private signing keys in the state directory."""

CLINICAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS smart_clients (client_id TEXT PRIMARY KEY, client TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS smart_keys (kid TEXT PRIMARY KEY, created TEXT NOT NULL,
    retires TEXT, file TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS smart_tokens (jti TEXT PRIMARY KEY, client_id TEXT NOT NULL,
    scope TEXT NOT NULL, expires TEXT NOT NULL, thumbprint TEXT);
CREATE TABLE IF NOT EXISTS smart_jtis (iss TEXT NOT NULL, jti TEXT NOT NULL,
    until TEXT NOT NULL, PRIMARY KEY (iss, jti));
CREATE TABLE IF NOT EXISTS fhir_resources (service TEXT NOT NULL, type TEXT NOT NULL,
    id TEXT NOT NULL, resource TEXT NOT NULL, PRIMARY KEY (service, type, id));
CREATE TABLE IF NOT EXISTS fhir_ids (service TEXT PRIMARY KEY, issued INTEGER NOT NULL);
"""


# -- clients -----------------------------------------------------------------------


def _jwk(key: ClientKey) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(key.key.as_dict(private=False))
    for name in ("kid", "alg", "use"):
        value = getattr(key, name)
        if value is not None:
            jwk[name] = value
    return jwk


def client_json(client: SmartClient) -> str:
    """A client as the store keeps it (public keys as JWKs, the secret's digest)."""
    return json.dumps({
        "client_id": client.client_id, "device_id": client.device_id,
        "scopes": format_scopes(client.scopes), "keys": [_jwk(k) for k in client.keys],
        "jwks_url": client.jwks_url,
        "secret": None if client.secret is None else base64.b64encode(client.secret).decode(),
        "algorithms": list(client.algorithms), "state": client.state.value,
    }, sort_keys=True)  # fmt: skip


def client_from_json(text: str) -> SmartClient:
    """A client the store kept."""
    data = json.loads(text)
    secret = data["secret"]
    return SmartClient(
        data["client_id"], data["device_id"], parse_scopes(data["scopes"]),
        keys=parse_key_set({"keys": data["keys"]}) if data["keys"] else (),
        jwks_url=data["jwks_url"], secret=None if secret is None else base64.b64decode(secret),
        algorithms=tuple(data["algorithms"]), state=ClientState(data["state"]),
    )  # fmt: skip


# -- the identity provider ------------------------------------------------------------


class SqliteIdpJournal:
    """The IdP's :class:`~testbed.smart.journal.IdpJournal` in ``hospital.db``."""

    def __init__(self, db: sqlite3.Connection, keys: KeyFiles) -> None:
        self._db = db
        self._keys = keys

    def save_client(self, client: SmartClient) -> None:
        """Keep a client as it is now."""
        self._db.execute(
            "INSERT INTO smart_clients VALUES (?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET client = excluded.client",
            (client.client_id, client_json(client)),
        )

    def save_signing_keys(self, keys: tuple[SigningKey, ...]) -> None:
        """Keep the signing keys as they are now (new private keys written as files)."""
        known = {kid for (kid,) in self._db.execute("SELECT kid FROM smart_keys")}
        self._db.execute("DELETE FROM smart_keys")
        for position, key in enumerate(keys):
            file = f"{key.kid}.pem"
            if key.kid not in known:
                private = key.key.private_key
                if not isinstance(private, ec.EllipticCurvePrivateKey):
                    raise LiveError(f"IdP signing key {key.kid!r} has no private key to keep")
                file = self._keys.write(key.kid, private)
            retires = None if key.retires is None else isoformat(key.retires)
            row = (key.kid, isoformat(key.created), retires, file, position)
            self._db.execute("INSERT INTO smart_keys VALUES (?, ?, ?, ?, ?)", row)

    def save_token(self, token: IssuedToken) -> None:
        """Keep an issued token."""
        self._db.execute("INSERT OR REPLACE INTO smart_tokens VALUES (?, ?, ?, ?, ?)",
                         (token.jti, token.client_id, token.scope, isoformat(token.expires),
                          token.thumbprint))  # fmt: skip

    def save_jti(self, kept: KeptJti) -> None:
        """Keep an admitted assertion id."""
        self._db.execute("INSERT OR REPLACE INTO smart_jtis VALUES (?, ?, ?)",
                         (kept.iss, kept.jti, isoformat(kept.until)))  # fmt: skip

    def forget_expired(self, now: datetime) -> None:
        """Drop the tokens and jtis that expired by ``now`` (the IdP asks every
        :data:`~testbed.smart.idp.FORGET_EVERY` grants, so the tables hold about the
        live ones, not every grant since the server started)."""
        stamp = isoformat(now)
        self._db.execute("DELETE FROM smart_tokens WHERE expires <= ?", (stamp,))
        self._db.execute("DELETE FROM smart_jtis WHERE until <= ?", (stamp,))

    def kept(self, *, now: datetime) -> KeptIdp | None:
        """The IdP this database kept (expired tokens and jtis dropped), or None."""
        keys = tuple(self._signing_keys())
        if not keys:
            return None
        self.forget_expired(now)
        rows = self._db.execute("SELECT client FROM smart_clients ORDER BY rowid")
        clients = tuple(client_from_json(text) for (text,) in rows)
        tokens = tuple(
            IssuedToken(jti, client, scope, parse_utc(expires), thumbprint)
            for jti, client, scope, expires, thumbprint in self._db.execute(
                "SELECT jti, client_id, scope, expires, thumbprint FROM smart_tokens")
        )  # fmt: skip
        jtis = tuple(KeptJti(iss, jti, parse_utc(until)) for iss, jti, until in
                     self._db.execute("SELECT iss, jti, until FROM smart_jtis"))  # fmt: skip
        return KeptIdp(clients, keys, tokens, jtis)

    def _signing_keys(self) -> Iterator[SigningKey]:
        rows = self._db.execute(
            "SELECT kid, created, retires, file FROM smart_keys ORDER BY position")
        for kid, created, retires, file in rows:
            key = ECKey.import_key(self._keys.read(file))  # type: ignore[arg-type]
            yield SigningKey(kid, key, parse_utc(created),
                             None if retires is None else parse_utc(retires))  # fmt: skip


# -- the EHRs ---------------------------------------------------------------------------


class SqliteFhirJournal:
    """One EHR service's :class:`~testbed.ehr.store.ResourceJournal` in ``hospital.db``."""

    def __init__(self, db: sqlite3.Connection, service: str) -> None:
        self._db = db
        self.service = service

    def save(self, resource: dict[str, Any], *, ids_issued: int) -> None:
        """Keep ``resource`` as it is now (its place in creation order kept)."""
        self._db.execute(
            "INSERT INTO fhir_resources VALUES (?, ?, ?, ?) ON CONFLICT (service, type, id) "
            "DO UPDATE SET resource = excluded.resource",
            (self.service, resource["resourceType"], resource["id"],
             json.dumps(resource, separators=(",", ":"))),
        )  # fmt: skip
        self._db.execute(
            "INSERT INTO fhir_ids VALUES (?, ?) ON CONFLICT (service) "
            "DO UPDATE SET issued = excluded.issued", (self.service, ids_issued))

    def kept(self) -> tuple[list[dict[str, Any]], int] | None:
        """The resources kept for this service in creation order and the ids issued,
        or None when nothing was kept."""
        row = self._db.execute("SELECT issued FROM fhir_ids WHERE service = ?",
                               (self.service,)).fetchone()  # fmt: skip
        if row is None:
            return None
        resources = [json.loads(text) for (text,) in self._db.execute(
            "SELECT resource FROM fhir_resources WHERE service = ? ORDER BY rowid",
            (self.service,))]  # fmt: skip
        return resources, int(row[0])


# -- giving a hospital back what was kept ---------------------------------------------------


def keep_clinical(
    clinical: Clinical, db: sqlite3.Connection, keys: KeyFiles, *, now: datetime,
    capacity: Capacity | None = None,
) -> None:  # fmt: skip
    """Give ``clinical`` back what ``db`` kept (if anything) and attach the journals
    (``capacity``: what each EHR's store may hold from now on, None: unbounded).

    A new hospital's IdP signing key and census are written now; a kept one replaces
    them (same ids: the census was built from the same seed), and every device's SMART
    enrollment is known again (offboarding and suspension reach its client).
    """
    idp = SqliteIdpJournal(db, keys)
    kept = idp.kept(now=now)
    if kept is None:
        idp.save_signing_keys(clinical.idp.signing_keys.all())
    else:
        clinical.idp.restore(kept, now=now)
    clinical.idp.journal = idp
    for name, ehr in clinical.ehrs.items():
        journal = SqliteFhirJournal(db, name)
        found = journal.kept()
        if found is None:
            for kind in RESOURCE_TYPES:
                for resource in ehr.store.all(kind):
                    journal.save(resource, ids_issued=ehr.store.ids_issued)
        else:
            ehr.restore(found[0], ids_issued=found[1])
        ehr.store.journal = journal
        if capacity is not None:
            ehr.store.bound(capacity)
    if kept is not None:
        clinical.restore_whereabouts(now)
        for client in kept.clients:
            _re_enroll(clinical, client, now)


def _re_enroll(clinical: Clinical, client: SmartClient, now: datetime) -> None:
    for name, ehr in clinical.ehrs.items():
        device = ehr.registry.find(client.device_id)
        location = ehr.registry.location_of(client.device_id)
        if device is None or location is None:
            continue
        site = next((s.name for s in clinical.scenario.sites
                     if (census := clinical.census(name, s.name)) is not None
                     and location in census.locations), None)  # fmt: skip
        if site is None:
            continue
        scopes = tuple(format_scopes(client.scopes).split())
        enrollment = SmartEnrollment(client.client_id, scopes, name, f"Location/{location}",
                                     f"Device/{device['id']}")  # fmt: skip
        clinical.restore_enrollment(enrollment, site=site, now=now)
        return
