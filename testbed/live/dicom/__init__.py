"""DICOM over TLS, live: the acceptor per PACS service and what it needs (docs/live.md)."""
