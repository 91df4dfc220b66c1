"""The health system: sites, zones and the services that live in them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

__all__ = ["HealthSystem", "Service", "ServiceKind", "Site"]

NAME = r"^[a-z0-9][a-z0-9-]{0,39}$"

#: the TLS profiles a site's PACS may accept (the values of
#: :class:`testbed.pacs.tls_profile.TlsProfile`; a unit test keeps them equal)
PacsTls = Literal["bcp195-non-downgrading", "legacy"]


class ServiceKind(StrEnum):
    """What a hospital service is."""

    PACS = "pacs"
    EHR = "ehr"


@dataclass(frozen=True, slots=True)
class Site:
    """One facility of the health system and its network zones."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", use_attribute_docstrings=True
    )

    name: Annotated[str, Field(pattern=NAME)]
    """The site's name (lowercase letters, digits and dashes); targets name it site:NAME."""
    zones: Annotated[tuple[str, ...], Field(min_length=1)]
    """The site's network zones (devices and services live in one of them)."""
    pacs_tls: Annotated[
        PacsTls,
        Field(
            description=(
                "The TLS profile the site's PACS accepts (DICOM PS3.15 Annex B): "
                "bcp195-non-downgrading (TLS 1.2+, ECDHE with AEAD suites) or legacy "
                "(an old PACS that still takes TLS 1.0/1.1 and static-RSA suites)."
            )
        ),
    ] = "bcp195-non-downgrading"


@dataclass(frozen=True, slots=True)
class Service:
    """A clinical service (PACS, EHR) living in one zone of one site."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", use_attribute_docstrings=True
    )

    name: Annotated[str, Field(pattern=NAME)]
    """The service's name; devices' profiles and network rules refer to it."""
    kind: ServiceKind
    """What the service is: pacs or ehr."""
    site: str
    """The site (its name) the service lives at."""
    zone: str
    """The zone of that site the service lives in."""
    ae_title: Annotated[
        str | None,
        Field(
            max_length=16,
            description=(
                "A PACS only: its called AE title (PS3.5: at most 16 characters, no "
                "backslash or control characters). Default: the name in capitals with "
                "'_' for '-', cut to 16 characters."
            ),
        ),
    ] = None


@dataclass(frozen=True, slots=True)
class HealthSystem:
    """Sites and services, with look-ups that refuse unknown names."""

    sites: tuple[Site, ...]
    services: tuple[Service, ...]

    def site(self, name: str) -> Site:
        """The site called ``name``."""
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(f"no site {name!r}; sites: {[s.name for s in self.sites]}")

    def service(self, name: str) -> Service:
        """The service called ``name``."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(f"no service {name!r}; services: {[s.name for s in self.services]}")

    def services_of_kind(self, kind: ServiceKind) -> tuple[Service, ...]:
        """Every service of one kind."""
        return tuple(s for s in self.services if s.kind is kind)

    def nearest(self, kind: ServiceKind, site: str) -> Service:
        """The service of ``kind`` at ``site``, else the first one anywhere."""
        candidates = self.services_of_kind(kind)
        if not candidates:
            raise KeyError(f"the health system has no {kind.value} service")
        local = [s for s in candidates if s.site == site]
        return (local or list(candidates))[0]
