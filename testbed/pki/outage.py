"""Which parts of the certificate authority are down now (faults).

An outage takes down the whole CA, or (with per-site issuing) one site's issuing CA.
Outages are counted, so overlapping ones end with the last; the EST service asks
:meth:`CaOutages.down` before it issues, the CRL publisher before it publishes.
"""

from __future__ import annotations

from testbed.errors import PkiError
from testbed.holds import Holds

__all__ = ["CaOutages"]


class CaOutages:
    """The outages in progress: of the whole CA (``None``) or of a site's issuing CA."""

    def __init__(self) -> None:
        self._active: Holds[str | None] = Holds()

    def begin(self, site: str | None = None) -> None:
        """An outage starts: of ``site``'s issuing CA, or (no site) of the whole CA."""
        self._active.hold(site)

    def end(self, site: str | None = None) -> bool:
        """One outage of ``site``'s issuing CA (no site: the whole CA) ends; whether
        that CA is up again (no other outage holds it down)."""
        try:
            self._active.release(site)
        except KeyError:
            what = "the whole CA" if site is None else f"the issuing CA of site {site!r}"
            raise PkiError(f"no outage of {what} to end") from None
        return not self.down(site)

    def down(self, site: str | None = None) -> bool:
        """Whether the CA that issues for ``site`` is down: the whole CA is, or that
        site's issuing CA is (no site: whether the whole CA is)."""
        return None in self._active or (site is not None and site in self._active)
