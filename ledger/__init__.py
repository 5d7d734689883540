"""The signed, append-only transparency ledger. It stores typed, opaque payloads and never
imports ``governance``."""
