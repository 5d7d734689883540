"""The governance package as the client ships it: only its pure ``content`` subpackage (audio
decoding and fingerprints), which imports nothing else of the service."""
