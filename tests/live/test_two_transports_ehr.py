"""One hospital, two transports, for the identity provider and the FHIR API: the same
token requests and FHIR interactions in process (:mod:`testbed.fhir_access`, as the
simulation calls it) and over real sockets (``testbed serve``'s EHR listener), from the
same zones with the same certificates, give the same answers and the same events.

Both hospitals run on a :class:`~testbed.clock.ManualClock`; the in-process IdP and EHR
are published under the live listener's origin (:func:`testbed.live.ehr_server.publish`),
so issuer, token URL and audience are the same strings.  Serial numbers and token ids
(``jti``) come from the operating system live: each is replaced by its order of first
appearance on each side.  Live mode tallies a refusal of a client no credential
identified (an unknown client, the IdP down: docs/live.md) into one event per source
and reason with a ``count``, by design: those are compared after folding the
simulation's one event each the same way (``unauthenticated``, shared with the other
differential test); every other event is compared field by field.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import jwt
import pytest

from testbed import fault_operations, operations
from testbed.access import Attempt, Purpose
from testbed.clock import ManualClock
from testbed.crosscheck import profiles_for
from testbed.devices import ae_title_for, load_profiles, make_record
from testbed.ehr.messages import FhirRequest
from testbed.events import EventLog
from testbed.fhir_access import fhir_request, request_token, tls_accepts
from testbed.hospital import Hospital
from testbed.live.ehr_server import publish
from testbed.live.fhir_app import NOT_CHECKED
from testbed.live.hospital import Registration, device_id_for
from testbed.live.zones import ZoneAddresses
from testbed.pki.keys import KeyType, new_private_key
from testbed.pki.revocation import RevocationReason
from testbed.scenario import load_scenario
from tests.live.ehr_scenario import write_scenario
from tests.live.smart_client import ASSERTION_TYPE, FHIR_JSON, SigningKey, observation
from tests.live.test_two_transports import (
    START,
    OverSockets,
    _certificate,
    _Device,
    _normalised,
    enroll_in_process,
    identified,
    over_sockets,
    unauthenticated,
)

pytestmark = pytest.mark.live

__all__ = ["over_sockets"]  # the live side's fixture, with this module's scenario_file

SCOPE = "system/Observation.cr system/Encounter.rs"
EHR = "ehr"


class ClinicalDriver(Protocol):
    """One transport's IdP and FHIR API, and the operations the script needs."""

    clock: ManualClock

    def register(self, serial: str, jwks: dict[str, Any]) -> tuple[str, str]: ...
    def enroll(self, device_id: str) -> int: ...
    def operate(self, action: str, device_id: str) -> None: ...
    def idp_outage(self, *, begin: bool) -> None: ...
    def flush(self) -> None: ...
    def token(self, device_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]: ...
    def fhir(self, device_id: str, zone: str, method: str, path: str, *,
             bearer: str | None, query: dict[str, str] | None = None,
             body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]: ...  # fmt: skip
    def events(self) -> list[dict[str, Any]]: ...


def _body(data: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(data) if data else {}
    return found


@dataclass
class InProcess:
    """The hospital's one FHIR path called directly, as the simulation does."""

    hospital: Hospital
    clock: ManualClock
    zones: ZoneAddresses
    rng: random.Random
    clients: dict[str, _Device] = field(default_factory=dict)

    def register(self, serial: str, jwks: dict[str, Any]) -> tuple[str, str]:
        """The device id and the EHR location its registration placed it at."""
        profile = self.hospital.profiles["bedside-ai-writer"]
        device_id = device_id_for(Registration(serial, "north", "bedside", profile.id, "nursing"))
        record = make_record(
            profile, self.hospital.system, device_id=device_id, serial=serial, site="north",
            zone="bedside", owner="nursing", preferred_key=self.hospital.scenario.pki.key_type,
            ae_title=ae_title_for(profile, len(self.hospital.inventory) + 1),
        )  # fmt: skip
        self.clients[device_id] = _Device(operations.register(self.hospital, record, jwks=jwks))
        enrollment = operations.smart_enrollment(self.hospital, device_id)
        assert enrollment is not None
        return device_id, str(enrollment.answer()["location"])

    def enroll(self, device_id: str) -> int:
        return enroll_in_process(self.hospital, device_id, self.clients[device_id], self.rng)

    def operate(self, action: str, device_id: str) -> None:
        if action == "revoke":
            operations.revoke(self.hospital, device_id, reason=RevocationReason.KEY_COMPROMISE)
            operations.publish_crls(self.hospital)  # as live mode does with a revocation
        elif action == "offboard":
            operations.offboard(self.hospital, device_id)
            operations.publish_crls(self.hospital)
        else:
            assert getattr(operations, action)(self.hospital, device_id)

    def idp_outage(self, *, begin: bool) -> None:
        change = fault_operations.begin_idp_outage if begin else fault_operations.end_idp_outage
        change(self.hospital)

    def flush(self) -> None:
        pass  # every event is written as it happens

    def _attempt(self, device_id: str, zone: str, purpose: Purpose) -> Attempt:
        certificate = self.clients[device_id].certificate
        return Attempt(device_id, EHR, certificate, ("north", zone), purpose)

    def token(self, device_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        attempt = self._attempt(device_id, "bedside", Purpose.TRAFFIC)
        answer = request_token(self.hospital, form, now=now, certificate=attempt.certificate,
                               certificate_accepted=tls_accepts(self.hospital, attempt, now))
        if answer.response is None:  # the IdP is down: live answers 503
            return 503, {"reason": answer.reason.value}
        return answer.response.status, dict(answer.response.body)

    def fhir(self, device_id: str, zone: str, method: str, path: str, *,
             bearer: str | None, query: dict[str, str] | None = None,
             body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
        data = json.dumps(body).encode() if body is not None else b""
        headers = (("Content-Type", FHIR_JSON),) if body is not None else ()
        request = FhirRequest(
            method=method, path=path, token=NOT_CHECKED, device_id=device_id,
            query=tuple((query or {}).items()), body=data, headers=headers,
            peer=self.zones.address("north", zone),
        )  # fmt: skip
        attempt = self._attempt(device_id, zone, Purpose.FHIR_REQUEST)
        answer = fhir_request(self.hospital, attempt, bearer, request, self.clock.now())
        if answer.response is None:  # refused below the EHR: live answers 403
            return 403, {"reason": answer.access.reason.value}
        return answer.response.status, _body(answer.response.body)

    def events(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.hospital.log]


@dataclass
class OverHttps:
    """The same, over the live EHR listener (mutual TLS from the zone's address)."""

    live: OverSockets
    clients: dict[str, _Device] = field(default_factory=dict)

    @property
    def clock(self) -> ManualClock:
        return self.live.clock

    def register(self, serial: str, jwks: dict[str, Any]) -> tuple[str, str]:
        answer = self.live._admin("/devices", {
            "serial": serial, "site": "north", "zone": "bedside", "profile": "bedside-ai-writer",
            "owner": "nursing", "jwks": jwks})  # fmt: skip
        device_id = str(answer["device_id"])
        self.clients[device_id] = _Device(answer["bootstrap"]["password"])
        return device_id, str(answer["location"])

    def enroll(self, device_id: str) -> int:
        client = self.clients[device_id]
        key = new_private_key(KeyType.EC_P256, None)
        status, body = self.live._post_csr("simpleenroll", device_id, key, certificate=None,
                                           basic=f"{device_id}:{client.password}")  # fmt: skip
        if status == 200:
            client.certificate = _certificate(body)
            self.live.keys[client.certificate.serial_number] = key
        return status

    def operate(self, action: str, device_id: str) -> None:
        payload = {"reason": "keyCompromise"} if action == "revoke" else None
        self.live._admin(f"/devices/{device_id}/{action}", payload)

    def idp_outage(self, *, begin: bool) -> None:
        self.live._admin("/faults/idp-outage", {"action": "begin" if begin else "end"})

    def flush(self) -> None:
        self.live._admin("/audit/flush")

    def _connection(self, url: str, device_id: str, zone: str) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.live.state.bundle))
        certificate = self.clients[device_id].certificate
        assert certificate is not None
        context.load_cert_chain(*self.live._files(device_id, certificate))
        parts = urlsplit(url)
        address = ZoneAddresses(self.live.live.scenario.sites).address("north", zone)
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, context=context,
                                           source_address=(address, 0), timeout=10)  # fmt: skip

    def _exchange(
        self, connection: http.client.HTTPSConnection, method: str, target: str,
        body: bytes | None, headers: dict[str, str],
    ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        connection.request(method, target, body=body, headers=headers)
        answer = connection.getresponse()
        status, data = answer.status, answer.read()
        connection.close()
        return status, _body(data)

    def token(self, device_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        url = str(self.live.endpoints["token"])
        connection = self._connection(url, device_id, "bedside")
        return self._exchange(connection, "POST", urlsplit(url).path, urlencode(form).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})

    def fhir(self, device_id: str, zone: str, method: str, path: str, *,
             bearer: str | None, query: dict[str, str] | None = None,
             body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
        base = str(self.live.endpoints["fhir"])
        target = f"{urlsplit(base).path}/{path}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": FHIR_JSON}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), FHIR_JSON
        status, answer = self._exchange(self._connection(base, device_id, zone), method, target,
                                        data, headers)  # fmt: skip
        if status == 403 and answer.get("resourceType") == "OperationOutcome":
            diagnostics = str(answer["issue"][0].get("diagnostics", ""))
            if diagnostics.startswith("refused at the"):  # below the EHR, as in process
                return 403, {"reason": diagnostics.split("(")[1].split(")")[0]}
        return status, answer

    def events(self) -> list[dict[str, Any]]:
        return self.live.events()


_RANDOM_KEYS = ("jti",)  # token ids: the operating system's live, the run's generator here


def _normalised_ehr(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`_normalised` (serials, ``seq``), and each token id by its order."""
    order: dict[str, str] = {}
    for event in events:
        for key in _RANDOM_KEYS:
            if event.get(key):
                order.setdefault(str(event[key]), f"jti#{len(order)}")
    return [{k: order.get(v, v) if k in _RANDOM_KEYS else v for k, v in event.items()}
            for event in _normalised(events)]  # fmt: skip


def _form(device_id: str, key: SigningKey, token_url: str, *, at: float, scope: str = SCOPE,
          jti: str | None = None) -> dict[str, str]:  # fmt: skip
    """A client-credentials request with a private_key_jwt assertion made at ``at``."""
    claims = {"iss": device_id, "sub": device_id, "aud": token_url, "exp": int(at) + 60,
              "jti": jti or uuid.uuid4().hex}  # fmt: skip
    assertion = jwt.encode(claims, key.private, algorithm="ES384",
                           headers={"kid": key.kid, "typ": "JWT"})  # fmt: skip
    return {"grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}  # fmt: skip


def _script(driver: ClinicalDriver, token_url: str) -> list[tuple[str, Any]]:
    """The sequence both transports run; each step's status (and reason) is kept."""
    seen: list[tuple[str, Any]] = []
    key = SigningKey("writer-key")
    writer, location = driver.register("W1", key.jwks())
    seen.append(("enroll", driver.enroll(writer)))
    driver.operate("validate", writer)
    driver.operate("promote", writer)
    at = driver.clock.now().timestamp()
    form = _form(writer, key, token_url, at=at, jti="assertion-1")
    status, granted = driver.token(writer, form)
    seen.append(("token", (status, granted.get("scope"), granted.get("expires_in"))))
    token = str(granted["access_token"])
    seen.append(("replayed", driver.token(writer, form)[0]))
    seen.append(("scope beyond the client's",
                 driver.token(writer, _form(writer, key, token_url, at=at,
                                            scope="system/Patient.cud"))[0]))  # fmt: skip
    status, bundle = driver.fhir(writer, "bedside", "GET", "Encounter", bearer=token,
                                 query={"status": "in-progress", "location": location})  # fmt: skip
    seen.append(("search", (status, bundle.get("total"))))
    encounter = bundle["entry"][0]["resource"]
    seen.append(("no token", driver.fhir(writer, "bedside", "GET", "Encounter", bearer=None,
                                         query={"status": "in-progress"})[0]))  # fmt: skip
    seen.append(("unknown patient", driver.fhir(writer, "bedside", "GET", "Patient/no-such",
                                                bearer=token)[0]))  # fmt: skip
    seen.append(("from the datacenter", driver.fhir(writer, "datacenter", "GET", "Encounter",
                                                    bearer=token)))  # fmt: skip
    reading = observation(encounter["subject"]["reference"], f"Encounter/{encounter['id']}",
                          writer, 72)  # fmt: skip
    status, created = driver.fhir(writer, "bedside", "POST", "Observation", bearer=token,
                                  body=reading)  # fmt: skip
    seen.append(("write", (status, created.get("resourceType"))))
    driver.clock.set(driver.clock.now() + timedelta(minutes=10))  # the token has expired
    seen.append(("expired token", driver.fhir(writer, "bedside", "GET", "Encounter",
                                              bearer=token)[0]))  # fmt: skip
    later = driver.clock.now().timestamp()
    status, fresh = driver.token(writer, _form(writer, key, token_url, at=later))
    seen.append(("fresh token", status))
    stranger = _form("no-such-client", key, token_url, at=later)
    seen.append(("unknown client", [driver.token(writer, stranger)[0] for _ in range(2)]))
    driver.idp_outage(begin=True)
    seen.append(("idp down", driver.token(writer, _form(writer, key, token_url, at=later))[0]))
    driver.idp_outage(begin=False)
    driver.operate("revoke", writer)
    seen.append(("revoked", driver.fhir(writer, "bedside", "GET", "Encounter",
                                        bearer=str(fresh["access_token"]))))  # fmt: skip
    driver.operate("offboard", writer)
    seen.append(("offboarded", driver.token(writer, _form(writer, key, token_url, at=later))[0]))
    driver.flush()
    return seen


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    return write_scenario(tmp_path / "scenario")


def test_the_idp_and_the_fhir_api_write_the_same_events_in_both_transports(
    scenario_file: Path, over_sockets: OverSockets
) -> None:
    scenario = load_scenario(scenario_file)
    profiles = load_profiles(profiles_for(scenario, scenario_file.parent))
    clock, rng = ManualClock(START), random.Random(5)
    hospital = Hospital(scenario, profiles=profiles, clock=clock, rng=rng, log=EventLog())
    operations.publish_crls(hospital)  # as `testbed serve` does when it starts
    assert hospital.clinical is not None
    token_url = str(over_sockets.endpoints["token"])
    publish(hospital.clinical, f"{urlsplit(token_url).scheme}://{urlsplit(token_url).netloc}")
    in_process = InProcess(hospital, clock, ZoneAddresses(scenario.sites), rng)
    answers = _script(in_process, token_url), _script(OverHttps(over_sockets), token_url)
    assert answers[0] == answers[1]
    assert dict(answers[0]) == {
        "enroll": 200, "token": (200, "system/Encounter.rs system/Observation.cr", 300),
        "replayed": 401, "scope beyond the client's": 400,
        "search": (200, answers[0][4][1][1]), "no token": 401, "unknown patient": 403,
        "from the datacenter": (403, {"reason": "route-blocked"}),
        "write": (201, "Observation"), "expired token": 401, "fresh token": 200,
        "unknown client": [401, 401], "idp down": 503,
        "revoked": (403, {"reason": "cert-revoked"}), "offboarded": 400,
    }  # fmt: skip
    simulated = _normalised_ehr(in_process.events())
    live = _normalised_ehr(over_sockets.events())
    for index, (one, other) in enumerate(zip(identified(simulated), identified(live),
                                             strict=True)):  # fmt: skip
        assert one == other, f"event {index} differs"
    unidentified = unauthenticated(simulated)
    assert unidentified == unauthenticated(live)
    assert sorted((dict(what)["reason"], count) for what, count in unidentified.items()) == [
        ("client-unknown", 2), ("service-unavailable", 1)]
