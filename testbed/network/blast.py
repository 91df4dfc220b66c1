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

Computed over endpoint classes (:mod:`testbed.network.classes`): the members of a
class other than the compromised device are alike, so each round updates one chance
per class, and each factor of the product is raised to the number of members it
stands for.  The answer is the per-endpoint formula's (a test compares them), at a
cost that grows with the classes, not the devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from testbed.network.catalog import Catalog
from testbed.network.classes import EndpointClass, class_flows, endpoint_classes
from testbed.network.reach import DesignLike, HospitalLike, Question

__all__ = ["BLAST_COLUMNS", "blast_radius", "bre_k", "class_pivots"]

BLAST_COLUMNS = (
    "Src", "Src_Group", "Reachable", "Reachable_Devices", "Reachable_Assets",
    "Devices_Share", "K", "Reachable_Within_K", "BRE_K",
)  # fmt: skip


def class_pivots(
    question: Question, classes: list[EndpointClass], weights: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(w, reach)`` between classes: ``w[a, b]`` the pivot weight of the easiest
    accepted service from a member of ``a`` to a member of ``b`` (0: none),
    ``reach[a, b]`` whether any flow between them is accepted."""
    pivot = {name: s.pivot for name, s in question.catalog.services.items()}
    pivot.update(weights or {})
    w = np.zeros((len(classes), len(classes)))
    reach = np.zeros((len(classes), len(classes)), dtype=bool)
    for a, b, service, verdict in class_flows(question, classes):
        if verdict.accepted:
            reach[a, b] = True
            w[a, b] = max(w[a, b], pivot[service])
    return w, reach


def _spread(w: np.ndarray, others: np.ndarray, start: int, k: int) -> np.ndarray:
    """``q_k`` per class: the chance that one of its members (not the compromised
    device, which is in class ``start``) is compromised after ``k`` rounds;
    ``others[c]``: how many such members class ``c`` has."""
    q = np.zeros(len(others))
    # a member of class c is tried by the other members of each class d (not itself)
    tries = others[:, None] - np.eye(len(others))
    tries = np.clip(tries, 0, None)
    first = 1.0 - w[start]  # the compromised device's own tries, each round
    for _ in range(k):
        survive = first * np.prod(np.power(1.0 - q[:, None] * w, tries), axis=0)
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
    classes = endpoint_classes(question)
    w, reach = class_pivots(question, classes, weights)
    sizes = np.array([c.size for c in classes])
    devices = np.array([c.representative.is_device for c in classes])
    total = int(sizes.sum())
    other_devices = int(sizes[devices].sum()) - 1
    rows: list[tuple[object, ...]] = []
    for start, cls in enumerate(classes):
        if not cls.representative.is_device:
            continue
        members = [m for m in cls.members if source is None or m.id == source]
        if not members:
            continue
        others = sizes - (np.arange(len(classes)) == start)
        reached = reach[start] * others
        q = _spread(w, others, start, k)
        shared = (
            question.group(cls.representative), int(reached.sum()),
            int(reached[devices].sum()), int(reached[~devices].sum()),
            int(reached[devices].sum()) / other_devices if other_devices > 0 else 0.0, k,
            int(others[q > 0].sum()), float((q * others).sum() / (total - 1)) if total > 1 else 0.0,
        )  # fmt: skip
        rows.extend((m.id, *shared) for m in members)
    if source is not None and not rows:
        raise KeyError(f"no device {source!r} in this hospital")
    order = {e.id: i for i, e in enumerate(question.topology.endpoints)}
    rows.sort(key=lambda row: order[str(row[0])])
    return pd.DataFrame.from_records(rows, columns=list(BLAST_COLUMNS))


def bre_k(
    design: DesignLike, hospital: HospitalLike, *, source: str, k: int = 3,
    weights: Mapping[str, float] | None = None, at: datetime | None = None,
) -> float:
    """BRE_K of one compromised device (the expected share of the other endpoints
    compromised within ``k`` hops)."""
    table = blast_radius(design, hospital, source=source, k=k, weights=weights, at=at)
    return float(table["BRE_K"].iloc[0])
