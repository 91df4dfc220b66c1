"""Blast radius: what a compromised device reaches (REFERENCES: networks and segmentation).

Two measures, both deterministic:

- **reachable**: the endpoints a compromised device has at least one accepted flow
  to (one hop), split into devices and assets; ``Devices_Share`` is the share of the
  *other* devices it reaches.
- **BRE_K** (blast radius, expected, within K hops): the expected share of the other
  endpoints compromised after K rounds, where each round every compromised endpoint
  tries each endpoint it reaches once and succeeds with the pivot weight of the
  easiest accepted service between them (the catalog's ``pivot``: remote shells weigh
  most, narrow APIs least), independently.  So
  ``q_t(v) = 1 - (1 - q_{t-1}(v)) * prod_u (1 - q_{t-1}(u) * w(u, v))`` from
  ``q_0`` = the compromised device.  The weights are data (``weights=``, or the
  catalog file), so the numbers follow from the design and the weights alone.

The attacker holds what the endpoint it controls holds (its certificate, the shared
credential, its scopes): identity conditions stop only flows that need something the
pivot point lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from testbed.network.catalog import Catalog
from testbed.network.reach import DesignLike, HospitalLike, Question
from testbed.network.topology import Endpoint

__all__ = ["BLAST_COLUMNS", "blast_radius", "bre_k", "pivot_matrix"]

BLAST_COLUMNS = (
    "Src", "Src_Group", "Reachable", "Reachable_Devices", "Reachable_Assets",
    "Devices_Share", "K", "Reachable_Within_K", "BRE_K",
)  # fmt: skip


def pivot_matrix(
    question: Question, weights: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(w, reach)``: ``w[u, v]`` the pivot weight of the easiest accepted service
    from endpoint ``u`` to ``v`` (0: none or no accepted flow), ``reach[u, v]``
    whether any flow is accepted, in topology order."""
    endpoints = question.topology.endpoints
    index = {e.id: i for i, e in enumerate(endpoints)}
    pivot = {name: s.pivot for name, s in question.catalog.services.items()}
    pivot.update(weights or {})
    w = np.zeros((len(endpoints), len(endpoints)))
    reach = np.zeros((len(endpoints), len(endpoints)), dtype=bool)
    for src, dst, service, verdict in question.each():
        if verdict.accepted:
            u, v = index[src.id], index[dst.id]
            reach[u, v] = True
            w[u, v] = max(w[u, v], pivot[service])
    return w, reach


def _spread(w: np.ndarray, start: int, k: int) -> np.ndarray:
    """``q_k``: each endpoint's chance of being compromised after ``k`` rounds."""
    q = np.zeros(w.shape[0])
    q[start] = 1.0
    for _ in range(k):
        survive = np.prod(1.0 - q[:, None] * w, axis=0)
        q = 1.0 - (1.0 - q) * survive
    return q


def blast_radius(
    design: DesignLike,
    hospital: HospitalLike,
    *,
    source: str | None = None,
    k: int = 3,
    weights: Mapping[str, float] | None = None,
    at: datetime | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """One row per compromised device (``source``: only that one): what it reaches in
    one hop, and BRE_K (module docstring)."""
    if k < 0:
        raise ValueError(f"k must be at least 0 (got {k})")
    question = Question.of(design, hospital, at=at, catalog=catalog)
    endpoints = question.topology.endpoints
    w, reach = pivot_matrix(question, weights)
    devices = np.array([e.is_device for e in endpoints])
    rows = []
    for i, src in enumerate(endpoints):
        if not src.is_device or (source is not None and src.id != source):
            continue
        rows.append(_row(question, src, i, w, reach[i], devices, k))
    if source is not None and not rows:
        raise KeyError(f"no device {source!r} in this hospital")
    return pd.DataFrame.from_records(rows, columns=list(BLAST_COLUMNS))


def _row(
    question: Question, src: Endpoint, i: int, w: np.ndarray, reach: np.ndarray,
    devices: np.ndarray, k: int,
) -> tuple[object, ...]:
    others = len(devices) - 1
    reached_devices = int(np.count_nonzero(reach & devices))
    reached_assets = int(np.count_nonzero(reach & ~devices))
    other_devices = int(np.count_nonzero(devices)) - 1
    q = _spread(w, i, k)
    q[i] = 0.0
    return (
        src.id, question.group(src), reached_devices + reached_assets, reached_devices,
        reached_assets, reached_devices / other_devices if other_devices else 0.0, k,
        int(np.count_nonzero(q > 0)), float(q.sum() / others) if others else 0.0,
    )  # fmt: skip


def bre_k(
    design: DesignLike, hospital: HospitalLike, *, source: str, k: int = 3,
    weights: Mapping[str, float] | None = None, at: datetime | None = None,
) -> float:
    """BRE_K of one compromised device (the expected share of the other endpoints
    compromised within ``k`` hops)."""
    table = blast_radius(design, hospital, source=source, k=k, weights=weights, at=at)
    return float(table["BRE_K"].iloc[0])
