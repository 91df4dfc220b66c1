"""The EHR: a FHIR R4 API's decision core (no transport), with patient context.

Modules, one concept each (docs/ehr.md tells the path of one write):

- :mod:`~testbed.ehr.ehr`: the service, one method per interaction;
- :mod:`~testbed.ehr.messages`: parsed requests and answers;
- :mod:`~testbed.ehr.authorization`: the token checker's verdict, the scope hop;
- :mod:`~testbed.ehr.scopes`: SMART v2 ``system/`` scopes (minimal, swappable);
- :mod:`~testbed.ehr.resources`: parsing and validation with ``fhir.resources`` (R4B);
- :mod:`~testbed.ehr.references`: reference target types and resolution;
- :mod:`~testbed.ehr.outcomes`: refusals and OperationOutcome;
- :mod:`~testbed.ehr.search`: search parameters;
- :mod:`~testbed.ehr.store`: resources in memory, seeded ids, conditional create;
- :mod:`~testbed.ehr.census`: a site's locations, patients and encounters;
- :mod:`~testbed.ehr.registry`: the EHR's device registry;
- :mod:`~testbed.ehr.context`: the patient-context authority;
- :mod:`~testbed.ehr.provenance`, :mod:`~testbed.ehr.audit`: Provenance, AuditEvent.
"""

from __future__ import annotations

from testbed.ehr.authorization import TokenCheck
from testbed.ehr.census import Census, CensusSize
from testbed.ehr.context import Move
from testbed.ehr.ehr import Ehr
from testbed.ehr.messages import FhirRequest, FhirResponse

__all__ = ["Census", "CensusSize", "Ehr", "FhirRequest", "FhirResponse", "Move", "TokenCheck"]
