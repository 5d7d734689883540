"""The licensee's client: fingerprints audio where it lies and writes a manifest of
fingerprints and SHA-256 commitments for ``POST /api/v1/use-requests/``, so the content never
leaves the licensee. It needs only ``governance.content`` (numpy, scipy, PyAV), no Django:
``pip install ./client`` installs it alone (client/pyproject.toml)."""
