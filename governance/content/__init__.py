"""Content recognition, pure: decoding audio (:mod:`.audio`) and the ``fingerprint`` space's
landmark fingerprint (:mod:`.landmarks`, :mod:`.fingerprint`).

It imports PyAV, numpy and scipy and nothing of Django or of the rest of the project (an
import-linter contract keeps it so), so the licensee's client can ship it alone and compute
the same fingerprints the service does.
"""
