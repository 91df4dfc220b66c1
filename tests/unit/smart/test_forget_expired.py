"""Tokens granted and never used, and the assertion ids admitted for them, are
forgotten once expired while the IdP runs: in memory at the next grant, in a live
journal every FORGET_EVERY grants (a review measured ``hospital.db`` growing 900 B per
grant, 8,001 expired rows kept until the next start)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from testbed.live.store_clinical import CLINICAL_SCHEMA, SqliteIdpJournal
from testbed.live.store_records import KeyFiles
from testbed.smart import idp as idp_module

from .conftest import NOW, MakeIdp, granted, sign_assertion, token_request


def _rows(db: sqlite3.Connection, table: str) -> int:
    (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def test_expired_tokens_and_jtis_are_forgotten_while_granting(
    make_idp: MakeIdp, ec_key: ECKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idp_module, "FORGET_EVERY", 4)
    idp = make_idp()
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(CLINICAL_SCHEMA)
    idp.journal = SqliteIdpJournal(db, KeyFiles(tmp_path))
    later = NOW + timedelta(hours=1)  # every token and assertion of NOW has expired

    def grant(at: object, n: int) -> None:
        assertion = sign_assertion(ec_key, now=at, jti=f"jti-{n}")  # type: ignore[arg-type]
        granted(idp.token(token_request(assertion), now=at))  # type: ignore[arg-type]

    for n in range(4):  # the 4th grant prunes: nothing has expired yet
        grant(NOW, n)
    assert (_rows(db, "smart_tokens"), _rows(db, "smart_jtis"), len(idp.issued)) == (4, 4, 4)
    grant(later, 4)
    assert len(idp.issued) == 1  # the expired four forgotten in memory at this grant
    assert _rows(db, "smart_tokens") == 5  # the journal waits for the 8th grant
    for n in range(5, 8):
        grant(later, n)
    assert (_rows(db, "smart_tokens"), _rows(db, "smart_jtis")) == (4, 4)
    kept = {jti for (jti,) in db.execute("SELECT jti FROM smart_jtis")}
    assert kept == {f"jti-{n}" for n in range(4, 8)}
