"""``tests.live.ports.free_port``: a bindable loopback port outside the kernel's
ephemeral range (where another worker's client sockets take theirs)."""

from __future__ import annotations

import random
import socket

import pytest

from tests.live import ports


def test_a_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    start = ports._ephemeral_start()
    for _ in range(20):
        port = ports.free_port()
        assert ports._LOWEST <= port < max(start, ports._LOWEST + 1_000)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        used = ports.free_port()
        taken.bind(("127.0.0.1", used))
        taken.listen()
        draws = iter([used, used, *range(used + 1, used + 50)])  # the taken one first, twice
        monkeypatch.setattr(random.SystemRandom, "randrange", lambda self, a, b: next(draws))
        assert ports.free_port() > used
