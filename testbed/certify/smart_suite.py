"""The SMART suite (issue 15): the device as a SMART Backend Services client.

Each check registers a fresh instance with the public JWK Set the device answers to
``keys`` (its own signing key), enrolls it (its certificate is its TLS identity at the
IdP and the FHIR API) and has it ``send-observation``.  The verdicts rest on the
identity provider's own audit events, which judge every client assertion with the
SMART 2.2 rules (:mod:`testbed.smart.assertion`: ``alg`` ES384 or RS384, ``exp`` at
most five minutes ahead, ``aud`` the token URL, ``iss`` = ``sub`` = the client id,
``jti`` never seen before): ``token-granted`` (with ``requested`` when the device
asked for other scopes than it got) and ``token-refused`` (with the reason).
"""

from __future__ import annotations

import time
from typing import Any

from testbed.certify.adapter import Action
from testbed.certify.checks import Check, CheckRun, Finding, NotMet, failed, not_applicable, passed
from testbed.certify.evidence import EventRef, Mark
from testbed.certify.session import Instance, Session, uses_ehr
from testbed.certify.steps import Enrolled, did, smart_enrolled
from testbed.smart.scopes import ScopeError, covers, parse_scopes

__all__ = [
    "CHECKS",
    "SUITE",
    "observation_request",
    "smart_instance",
    "token_lifetime",
    "uses_ehr",
]

SUITE = "smart"


def observation_request(session: Session, instance: Instance) -> dict[str, Any]:
    """The fields of a ``send-observation`` request (``scopes``, ``source_address`` and
    ``ca_bundle`` are the kit's additions: what the hospital pre-authorized, the zone
    address to connect from, the trust bundle)."""
    endpoints, smart = session.hospital.endpoints, instance.smart or {}
    return {"smart_configuration": endpoints["smart_configuration"],
            "client_id": smart["client_id"], "fhir": endpoints["fhir"],
            "location": smart["location"], "scopes": list(smart["scopes"]),
            "source_address": session.source_address(),
            "ca_bundle": str(session.bundle())}  # fmt: skip


def smart_instance(run: CheckRun, label: str) -> Enrolled | Finding:
    """An enrolled instance with a SMART client, or why the check does not apply."""
    if "smart_configuration" not in run.session.hospital.endpoints:
        return not_applicable("the hospital has no identity provider and EHR (its scenario has no "
                       "'ehr' block)")  # fmt: skip
    if not uses_ehr(run.profile):
        return not_applicable(f"profile {run.profile.id} does not write to the EHR")
    found = smart_enrolled(run, label)
    if found is None:
        return not_applicable(f"profile {run.profile.id} does not use the EHR (no SMART client)")
    return found


def token_lifetime(session: Session) -> float:
    """Seconds an access token of this hospital lives."""
    ehr = session.hospital.scenario.ehr
    return 300.0 if ehr is None else ehr.token_lifetime.total_seconds()


def _tokens(run: CheckRun, mark: Mark, device: str) -> tuple[list[EventRef], list[EventRef]]:
    granted = run.events(mark, kind="token-granted", subject=device)
    refused = run.events(mark, kind="token-refused", subject=device)
    return granted, refused


def _refusals(refused: list[EventRef]) -> str:
    return "; ".join(f"{e.data.get('reason')}: {e.data.get('detail')}" for e in refused)


def _twice(run: CheckRun, first: Enrolled) -> tuple[Mark, bool, bool]:
    """Send an Observation, wait until its token expired, send another: the mark before,
    and whether each send succeeded."""
    session, instance = run.session, first.instance
    mark = run.mark()
    request = observation_request(session, instance)
    one = run.call(instance, Action.SEND_OBSERVATION, **request).succeeded
    wait = token_lifetime(session) + 1.0
    run.note(f"waited {wait:.0f} s for the access token to expire")
    time.sleep(wait)
    two = run.call(instance, Action.SEND_OBSERVATION, **request).succeeded
    return mark, one, two


def assertions(run: CheckRun) -> Finding:
    """SMART-01: every client assertion the device sends is accepted by the IdP's SMART
    checks (two token requests, so two assertions: a reused ``jti`` shows)."""
    first = smart_instance(run, "assertions")
    if not isinstance(first, Enrolled):
        return first
    mark, one, two = _twice(run, first)
    granted, refused = _tokens(run, mark, first.instance.device_id)
    if refused:
        return failed(f"the IdP refused {len(refused)} client assertion(s): "
                      f"{_refusals(refused)}")  # fmt: skip
    if len(granted) < 2 or not (one and two):
        raise NotMet(f"two sends a token lifetime apart gave {len(granted)} token(s) "
                     f"(sends succeeded: {one}, {two})")  # fmt: skip
    return passed(f"{len(granted)} client assertions accepted by the IdP's SMART 2.2 checks "
                  "(alg, exp within 5 minutes, aud, iss = sub, unique jti)")  # fmt: skip


def expired_token(run: CheckRun) -> Finding:
    """SMART-02: once its access token expired the device asks for a new one, and never
    presents the expired one to the FHIR API."""
    first = smart_instance(run, "token-expiry")
    if not isinstance(first, Enrolled):
        return first
    device = first.instance.device_id
    mark, one, two = _twice(run, first)
    granted, refused = _tokens(run, mark, device)
    expired = [e for e in run.events(mark, subject=device)
               if e.kind in ("ehr-write", "ehr-read")
               and e.data.get("reason") in ("token-expired", "token-inactive")]  # fmt: skip
    if expired:
        return failed(f"the device presented an expired token {len(expired)} time(s)")
    if not one:
        raise NotMet("the first send-observation did not succeed")
    if not two or len(granted) < 2:
        why = _refusals(refused) or "no new token request"
        return failed(f"after its token expired the device did not get a new one and send "
                      f"({len(granted)} token(s) granted; {why})")  # fmt: skip
    return passed(f"a new token after the first expired ({len(granted)} granted); no expired "
                  "token presented")  # fmt: skip


def _beyond(requested: str, authorized: list[str]) -> list[str]:
    try:
        asked, allowed = parse_scopes(requested), parse_scopes(" ".join(authorized))
    except ScopeError:
        return [requested]
    return [str(s) for s in asked if not any(covers(a, s) for a in allowed)]


def scopes(run: CheckRun) -> Finding:
    """SMART-03: the device asks only for the scopes it was pre-authorized."""
    first = smart_instance(run, "scopes")
    if not isinstance(first, Enrolled):
        return first
    instance = first.instance
    authorized = list((instance.smart or {})["scopes"])
    mark = run.mark()
    sent = run.call(instance, Action.SEND_OBSERVATION,
                    **observation_request(run.session, instance))  # fmt: skip
    granted, refused = _tokens(run, mark, instance.device_id)
    asked = [str(e.data.get("requested") or e.data.get("scope")) for e in granted]
    asked += [str(e.data.get("detail")) for e in refused if e.data.get("reason") in
              ("scope-not-authorized", "scope-malformed")]  # fmt: skip
    wider = sorted({a for a in asked if _beyond(a, authorized)})
    if wider:
        return failed(f"the device asked for {wider}, beyond its pre-authorized "
                      f"{authorized}")  # fmt: skip
    did(sent, "send-observation")
    if not granted:
        raise NotMet("the device got no token")
    return passed(f"asked only for pre-authorized scopes ({', '.join(sorted(set(asked)))})")


CHECKS: tuple[Check, ...] = (
    Check("SMART-01", "Client assertions follow SMART 2.2 client-confidential-asymmetric",
          SUITE, ("SMART App Launch 2.2 §Client Authentication: Asymmetric",
                  "RFC 7523 §3", "Inferno SMART Backend Services (ids 321-336)"),
          "An instance registered with the JWK Set the device answers to keys sends an "
          "Observation, waits for its token to expire and sends another (two token "
          "requests). Pass: the IdP granted both and refused no assertion (it checks alg "
          "ES384/RS384, exp at most 5 minutes ahead, aud = the token URL, iss = sub = the "
          "client id, a jti never seen).", assertions, uses_ehr),
    Check("SMART-02", "An expired access token is not reused: the device asks for a new one",
          SUITE, ("SMART App Launch 2.2 §Backend Services: access token expiry",
                  "RFC 6750 §3.1"),
          "As SMART-01: the second send must succeed with a new token, and the FHIR API "
          "must see no request with an expired or inactive token (ehr-write/ehr-read "
          "token-expired).", expired_token, uses_ehr),
    Check("SMART-03", "Only pre-authorized scopes are requested", SUITE,
          ("SMART App Launch 2.2 §Scopes (system scopes)", "seed §7 step 1"),
          "An instance sends an Observation. Pass: every scope of its token requests "
          "(token-granted requested/scope, token-refused scope-not-authorized) is covered "
          "by the scopes the hospital pre-authorized for its client.", scopes, uses_ehr),
)  # fmt: skip
