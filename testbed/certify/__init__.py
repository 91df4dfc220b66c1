"""The certification kit (issue 15): requirement-traced checks against a real device,
driven through a language-neutral adapter, on the hospital live on loopback.

- :mod:`~testbed.certify.adapter` the adapter protocol (``COMMAND ARGS ACTION``, JSON in and out);
- :mod:`~testbed.certify.checks` checks as objects, :mod:`~testbed.certify.registry` the suites;
- :mod:`~testbed.certify.est_suite`, :mod:`~testbed.certify.smart_suite`,
  :mod:`~testbed.certify.fhir_suite`, :mod:`~testbed.certify.dicom_suite`,
  :mod:`~testbed.certify.lifecycle_suite` (with :mod:`~testbed.certify.data_kept`),
  :mod:`~testbed.certify.recovery` (KIT-01)
  the checks;
- :mod:`~testbed.certify.hospital` the live hospital, :mod:`~testbed.certify.session`
  a run's instances and faults, :mod:`~testbed.certify.impostor` the impostor EST
  server and PACS, :mod:`~testbed.certify.est_client` and
  :mod:`~testbed.certify.dicom_client` the device-side clients;
- :mod:`~testbed.certify.evidence` audit events and exchanges, :mod:`~testbed.certify.report`
  ``certify.json``, ``certify.html``, JUnit XML; :mod:`~testbed.certify.command` the CLI.
"""
