"""``testbed pacs-check``: the PACS-side trust checks against any DICOM TLS acceptor.

- :mod:`.credentials`: the check's devices, enrolled from a running ``testbed serve``
  (and kept in ``DIR/pacs-check/``), plus the certificates no enrollment gives: an
  expired one, and one from a CA the check makes;
- :mod:`.checks`: each check, a pynetdicom association over TLS;
- :mod:`.report`: the table, JSON and JUnit;
- :mod:`.command`: the command line.
"""
