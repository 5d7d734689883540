"""Content recognition, pure: decoding audio (:mod:`.audio`), the ``fingerprint`` space's
landmark fingerprint (:mod:`.landmarks`, :mod:`.fingerprint`) and the ``composition`` space's
key- and tempo-invariant vectors (:mod:`.composition`, librosa).

It imports PyAV, numpy, scipy and librosa and nothing of Django or of the rest of the project
(an import-linter contract keeps it so), so the licensee's client can ship it alone and compute
the same fingerprints the service does.
"""
