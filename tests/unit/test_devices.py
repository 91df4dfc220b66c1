"""Device profiles (the compatibility matrix) and device records."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from testbed.crosscheck import DEFAULT_PROFILES
from testbed.devices import (
    DeviceClass,
    EnrollmentProtocol,
    check_ae_title,
    check_smart_scope,
    load_profile,
    load_profiles,
    make_record,
)
from testbed.errors import RegistrationError, ScenarioError
from testbed.pki.keys import KeyType
from testbed.sites import HealthSystem, Service, ServiceKind, Site

SHIPPED = sorted(DEFAULT_PROFILES.glob("*.yaml"))

MINIMAL = """\
vendor: V
model: M
device_class: ultrasound
enrollment_protocols: [est]
key_types: [ec-p256]
max_validity: 30d
automated_renewal: true
store_and_forward: false
reports_failures: true
services: [pacs]
"""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.id == path.stem
    assert profile.max_validity > timedelta(0)


def test_the_shipped_matrix() -> None:
    profiles = load_profiles(DEFAULT_PROFILES)
    assert set(profiles) == {p.stem for p in SHIPPED}
    legacy = profiles["legacy-ultrasound"]
    assert not legacy.supports_est
    assert legacy.enrollment_protocols == (EnrollmentProtocol.MANUAL,)
    assert profiles["ct-ai-onbox"].supports_est
    assert profiles["bedside-monitor-gateway"].device_class is DeviceClass.BEDSIDE_MONITOR_GATEWAY
    assert KeyType.RSA_2048 in profiles["ct-ai-onbox"].key_types


def test_validity_is_capped_by_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "capped.yaml"
    path.write_text(MINIMAL.replace("30d", "14d"), encoding="utf-8")
    profile = load_profile(path)
    assert profile.validity(timedelta(days=30)) == timedelta(days=14)
    assert profile.validity(timedelta(days=7)) == timedelta(days=7)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("device_class: ultrasound", "device_class: toaster"), "device_class"),
        (("key_types: [ec-p256]", "key_types: []"), "key_types"),
        (("key_types: [ec-p256]", "key_types: [dsa-1024]"), "key_types[0]"),
        (("max_validity: 30d", "max_validity: 30"), "max_validity"),
        (("services: [pacs]", "services: [pacs]\nbuffer_capacity: -1"), "buffer_capacity"),
        (("services: [pacs]", "services: [pacs]\nae_title_prefix: 'BAD\\\\TITLE'"),
         "ae_title_prefix"),
        (("vendor: V\n", ""), "vendor"),
        (("max_validity: 30d", "max_validity: 0s"), "max_validity"),
        (("services: [pacs]", "services: [pcas]"), "services[0]"),
        (("services: [pacs]", "services: [pacs]\nfhir_scopes: [Observation.read]"),
         "fhir_scopes[0]"),
        (("services: [pacs]", "services: [pacs]\nfhir_scopes: [patient/Observation.rs]"),
         "fhir_scopes[0]"),
        (("vendor: V\n", "vendor: V\nvendor: W\n"), "line 2, column 1"),
    ],
)
def test_a_bad_profile_names_the_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    path = tmp_path / "bad.yaml"
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_profile(path)
    assert raised.value.file == str(path)
    assert raised.value.field == field


def test_a_profile_id_must_match_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(MINIMAL + "id: other\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="the file name's stem 'one'"):
        load_profile(path)


def test_profiles_need_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="a directory of device profiles"):
        load_profiles(tmp_path / "nowhere")


@pytest.mark.parametrize("title", ["APEXCT001", "A" * 16, " padded "])
def test_good_ae_titles(title: str) -> None:
    assert check_ae_title(title) == title


@pytest.mark.parametrize(
    ("title", "why"),
    [
        ("A" * 17, "at most 16"),
        ("BAD\\ONE", "backslash"),
        ("TAB\tX", "control"),
        ("    ", "spaces"),
    ],
)
def test_bad_ae_titles(title: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_ae_title(title)


@pytest.mark.parametrize(
    "scope",
    ["system/Observation.c", "system/ImagingStudy.rs", "system/*.read", "system/Patient.cruds",
     "system/Observation.rs?category=vital-signs", "system/Observation.write"],
)
def test_smart_backend_scopes(scope: str) -> None:
    assert check_smart_scope(scope) == scope


@pytest.mark.parametrize(
    "scope",
    ["Observation", "patient/Observation.rs", "user/Observation.read", "system/Observation.",
     "system/Observation.sr", "system/observation.r", "system/Observation.rs extra"],
)
def test_not_smart_backend_scopes(scope: str) -> None:
    with pytest.raises(ValueError, match="SMART backend-services scope"):
        check_smart_scope(scope)


def test_a_record_of_a_profile_whose_service_the_scenario_lacks_is_refused() -> None:
    """A profile that uses a kind of service the hospital has none of is refused with
    a message naming the profile and the service (not a KeyError: live mode's admin
    API answered 500)."""
    profile = load_profiles(DEFAULT_PROFILES)["ct-ai-onbox"]  # pacs and ehr
    system = HealthSystem(
        (Site("north", ("imaging", "datacenter")),),
        (Service("ehr", ServiceKind.EHR, "north", "datacenter"),),
    )
    with pytest.raises(RegistrationError, match=r"profile 'ct-ai-onbox' uses the pacs service"):
        make_record(profile, system, device_id="d", serial="S1", site="north", zone="imaging",
                    owner="o", preferred_key=KeyType.EC_P256)  # fmt: skip
    pacs = Service("pacs", ServiceKind.PACS, "north", "datacenter")
    with_pacs = HealthSystem(system.sites, (*system.services, pacs))
    record = make_record(profile, with_pacs, device_id="d", serial="S1", site="north",
                         zone="imaging", owner="o", preferred_key=KeyType.EC_P256)  # fmt: skip
    assert set(record.intended_services) == {"ehr", "pacs"}
