"""A DICOM peer that sends requests without waiting for the answers is held back by
TCP, not buffered in memory (``MAX_QUEUED_MESSAGES``, testbed/live/dicom/bounds.py).

pynetdicom reads and decodes on while the association's thread waits in a handler and
queues every decoded message without limit.  Here the live servers run in this
process (the differential test's ``over_sockets``), the hospital's thread is held as
a long core call would hold it, and the device sends 40 C-ECHO requests at once,
beyond the one operation at a time it negotiated.  Every request is answered, in
order; while the thread was held, at most one decoded request waited.
"""

from __future__ import annotations

import ssl
import threading
import time
from typing import Any

import pytest
from pynetdicom import AE
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_ECHO

from testbed.live.dicom.acceptor import LOOPBACK
from testbed.live.dicom.bounds import MAX_QUEUED_MESSAGES
from testbed.live.zones import ZoneAddresses
from testbed.pacs.echo import VERIFICATION_SOP_CLASS
from tests.live.test_two_transports import OverSockets, over_sockets, scenario_file

__all__ = ["over_sockets", "scenario_file"]

pytestmark = pytest.mark.live

REQUESTS = 40
HOLD_SECONDS = 1.5


def _deepest_queue(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The most decoded messages seen waiting on an acceptor's association (pynetdicom's
    own queue, read as pynetdicom fills it)."""
    deepest = [0]
    receive = DIMSEServiceProvider.receive_primitive

    def counted(self: DIMSEServiceProvider, primitive: Any) -> None:
        receive(self, primitive)
        if self.assoc.is_acceptor:
            deepest[0] = max(deepest[0], self.msg_queue.qsize())

    monkeypatch.setattr(DIMSEServiceProvider, "receive_primitive", counted)
    return deepest


def _hold(over: OverSockets, seconds: float) -> None:
    """Keep the hospital's thread busy for ``seconds``, as a long core call would."""
    busy = threading.Event()

    def block() -> None:
        busy.set()
        time.sleep(seconds)

    over.loop.call_soon_threadsafe(block)
    assert busy.wait(5)


def _associate(over: OverSockets, device_id: str) -> Any:
    device = over.devices[device_id]
    assert device.certificate is not None
    context = ssl.create_default_context(cafile=str(over.state.bundle))
    context.check_hostname = False  # an IP address; the chain is checked
    context.load_cert_chain(*over._files(device_id, device.certificate))
    pacs = next(e for e in over.endpoints["dicom"] if e["service"] == "pacs-north")
    ae = AE(ae_title=device.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    address = ZoneAddresses(over.live.scenario.sites).address("north", "imaging")
    return ae.associate(LOOPBACK, int(pacs["port"]), ae_title=pacs["ae_title"],
                        tls_args=(context, None), bind_address=(address, 0))  # fmt: skip


def test_requests_sent_without_waiting_are_answered_in_turn_one_waiting_at_most(
    over_sockets: OverSockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    deepest = _deepest_queue(monkeypatch)
    device_id = over_sockets.register("F1", "imaging")
    assert over_sockets.enroll(device_id) == 200
    assoc = _associate(over_sockets, device_id)
    assert assoc.is_established
    context_id = assoc.accepted_contexts[0].context_id
    # what pynetdicom's send_c_echo does, without waiting between the requests
    assoc._reactor_checkpoint.clear()
    while not assoc._is_paused:
        time.sleep(0.001)
    try:
        _hold(over_sockets, HOLD_SECONDS)
        for message_id in range(1, REQUESTS + 1):
            request = C_ECHO()
            request.MessageID = message_id
            request.AffectedSOPClassUID = VERIFICATION_SOP_CLASS
            assoc.dimse.send_msg(request, context_id)
        answers = [assoc.dimse.get_msg(block=True)[1] for _ in range(REQUESTS)]
    finally:
        assoc._reactor_checkpoint.set()
    assoc.release()
    assert [a.MessageIDBeingRespondedTo for a in answers] == list(range(1, REQUESTS + 1))
    assert {int(a.Status) for a in answers} == {0x0000}
    assert deepest[0] == MAX_QUEUED_MESSAGES  # the acceptor read on while one waited, no more
    echoes = [e for e in over_sockets.events() if e["kind"] == "dicom-echo"]
    assert len(echoes) == REQUESTS and all(e["allowed"] for e in echoes)
