"""Content understanding: pure code (numpy, scipy, PyAV, librosa) turning audio into the vectors
of the embedding spaces; no Django."""
