"""AE titles (PS3.5): at most 16 characters, no backslash or control characters, not
all spaces; checked at registration and on every association request."""

from __future__ import annotations

from dataclasses import replace

import pytest

from testbed.decisions import Reason
from testbed.devices import DeviceRecord
from testbed.errors import RegistrationError
from testbed.pacs.ae_title import ae_title_for, canonical_ae_title, invalid_ae_title
from testbed.pacs.allow_list import AllowedAe, AllowList
from tests.conftest import NOW, PROFILES, Hospital
from tests.unit.pacs.builders import Bed

VALID = {
    "16 characters": "A" * 16,
    "1 character": "A",
    "inner space": "CT ROOM 1",
    "padded to 16": "APEXCT001       ",
    "leading space": " APEXCT001",
}
INVALID = {
    "17 characters": "A" * 17,  # dcmtk would silently truncate it to 16
    "backslash": "APEX\\CT",
    "newline": "APEX\nCT",
    "nul": "APEX\x00CT",
    "escape": "APEX\x1bCT",
    "delete": "APEX\x7fCT",
    "all spaces": " " * 16,
    "empty": "",
}


@pytest.mark.parametrize("title", VALID.values(), ids=VALID.keys())
def test_a_valid_title_is_canonical_without_surrounding_spaces(title: str) -> None:
    assert invalid_ae_title(title) is None
    assert canonical_ae_title(title) == title.strip(" ")


@pytest.mark.parametrize("title", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_title_is_named_and_never_corrected(title: str) -> None:
    problem = invalid_ae_title(title)
    assert problem is not None and "PS3.5" in problem
    with pytest.raises(ValueError, match=r"PS3\.5"):
        canonical_ae_title(title)


@pytest.mark.parametrize("title", INVALID.values(), ids=INVALID.keys())
def test_registration_refuses_an_invalid_title(title: str) -> None:
    record = _record("ct-9")
    with pytest.raises(ValueError, match=r"'ct-9'.*PS3\.5"):
        replace(record, ae_title=title)


@pytest.mark.parametrize("title", INVALID.values(), ids=INVALID.keys())
def test_an_association_with_an_invalid_calling_title_is_refused(bed: Bed, title: str) -> None:
    answer = bed.pacs.associate(bed.request(calling_ae=title), now=NOW)
    assert answer.decision.reason is Reason.AE_TITLE_NOT_ALLOWED
    assert "not a valid AE title" in answer.decision.detail


def test_a_17th_character_does_not_reach_the_16_character_title(bed: Bed) -> None:
    """What dcmtk would truncate to APEXCT001 + 7 characters is not that device."""
    sixteen = "APEXCT001ABCDEFG"
    pacs = bed.pacs
    pacs.replace_allow_list(pacs.policy.allow_list.with_entry(
        AllowedAe(sixteen, "ct-1", "north", "imaging")).without("APEXCT001"))  # fmt: skip
    assert pacs.associate(bed.request(calling_ae=sixteen), now=NOW).accepted
    refused = pacs.associate(bed.request(calling_ae=sixteen + "H"), now=NOW)
    assert refused.decision.reason is Reason.AE_TITLE_NOT_ALLOWED


@pytest.mark.parametrize("title", ["APEXCT001       ", " APEXCT001"], ids=["padded", "leading"])
def test_surrounding_spaces_are_not_significant_on_the_wire(bed: Bed, title: str) -> None:
    answer = bed.pacs.associate(bed.request(calling_ae=title), now=NOW)
    assert answer.association is not None and answer.association.calling_ae == "APEXCT001"


@pytest.mark.parametrize("called", [f"{'PACSNORTH':<16}", " PACSNORTH"], ids=["padded", "leading"])
def test_the_called_title_compares_the_same_way(bed: Bed, called: str) -> None:
    assert bed.pacs.associate(bed.request(called_ae=called), now=NOW).accepted


def test_the_numbering_the_project_uses_fits_ps3_5() -> None:
    ct = PROFILES["ct-ai-onbox"]
    assert ae_title_for(ct, 1) == "APEXCT001"
    assert invalid_ae_title(ae_title_for(ct, 999) or "") is None


def test_two_devices_may_not_share_a_title_at_one_pacs() -> None:
    with pytest.raises(RegistrationError, match="'APEXCT001' is held by 'ct-1' and 'ct-2'"):
        AllowList.of(
            "pacs-north",
            [AllowedAe("APEXCT001", d, "north", "imaging") for d in ("ct-1", "ct-2")],
        )


def test_the_allow_list_takes_the_records_that_name_the_pacs() -> None:
    records = [
        replace(_record("ct-1"), ae_title="APEXCT001 ", dicom_endpoints=("pacs-north",)),
        replace(_record("ct-2"), ae_title="APEXCT002", dicom_endpoints=("pacs-south",)),
        replace(_record("ct-3"), dicom_endpoints=("pacs-north",)),  # no AE title
    ]
    allowed = AllowList.from_records("pacs-north", records)
    assert list(allowed) == [AllowedAe("APEXCT001", "ct-1", "north", "imaging")]
    assert "APEXCT001" in allowed and len(allowed) == 1
    with pytest.raises(KeyError, match="APEXCT002"):
        allowed.without("APEXCT002")


def test_an_allow_list_entry_holds_the_canonical_title() -> None:
    with pytest.raises(ValueError, match="without leading or trailing spaces"):
        AllowedAe("APEXCT001 ", "ct-1", "north", "imaging")


def _record(device_id: str) -> DeviceRecord:
    return Hospital.record(device_id)
