"""The upload handler of a request's files: refuses an oversized manifest or audio file while
it arrives.

A manifest of 13 MB with 1,000,001 items was stored, decoded and parsed whole (21 s) before its
size was refused. This handler counts bytes and newlines of each chunk as Django's multipart
parser hands it over, and stops reading the body at the first chunk past either limit of
``governance.services.manifests`` (``MANIFEST_MAX_BYTES``: 413; more lines than
``manifest_max_lines``: 400, naming the limit), before a single line is parsed. An audio
``file`` (a check's, or each of a request's: ``governance.services.fingerprints``) is only
counted: past ``AUDIO_MAX_BYTES``, a 413 naming ``file``, as for a work's content.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest

from governance.services import content, fingerprints, manifests, voices


class ManifestUploadHandler(TemporaryFileUploadHandler):
    """Stores the upload in a temporary file, as Django's default handler does, and counts."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        self.newlines = 0
        self.limit = 0
        self.last_byte = b"\n"

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received, self.newlines, self.limit, self.last_byte = 0, 0, 0, b"\n"

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.field_name == "file":  # audio: its size alone
            self.received += len(raw_data)
            if self.received > fingerprints.AUDIO_MAX_BYTES:
                self._abandon()
                raise content.content_too_large(field="file", limit=fingerprints.AUDIO_MAX_BYTES)
            return super().receive_data_chunk(raw_data, start)
        if not self.limit:  # the first chunk tells JSON Lines from CSV
            jsonl = manifests.manifest_is_jsonl(filename=self.file_name or "", head=raw_data[:64])
            self.limit = manifests.manifest_max_lines(jsonl=jsonl)
        self.received += len(raw_data)
        self.newlines += raw_data.count(b"\n")
        if raw_data:
            self.last_byte = raw_data[-1:]
        if self.received > manifests.MANIFEST_MAX_BYTES:
            self._abandon()
            raise manifests.manifest_too_many_bytes()
        if self.newlines > self.limit:
            self._abandon()
            raise manifests.manifest_too_many_lines(line=self.limit + 1)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.field_name == "file":
            return super().file_complete(file_size)
        lines = self.newlines + (0 if self.last_byte == b"\n" else 1)
        if self.limit and lines > self.limit:
            self._abandon()
            raise manifests.manifest_too_many_lines(line=self.limit + 1)
        return super().file_complete(file_size)

    def _abandon(self) -> None:
        self.file.close()  # the temporary file goes with it


class ContentUploadHandler(TemporaryFileUploadHandler):
    """A work's content (``POST /api/v1/works/{id}/content/``): the bytes are counted as they
    arrive and the upload is refused (413 ``too_large``, naming ``file``) at the first chunk
    past the fingerprint space's limit, before the rest of the body is read."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        self.limit = content.max_bytes()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.file.close()  # the temporary file goes with it
            raise content.content_too_large(field=self.field_name or "file", limit=self.limit)
        return super().receive_data_chunk(raw_data, start)


class VoiceUploadHandler(ContentUploadHandler):
    """An artist's voice recordings (``POST /api/v1/parties/{id}/likeness/voice/``): every file
    of the upload counts towards one limit (``governance.services.voices.max_bytes``), refused
    (413 ``too_large``, naming ``file``) at the first chunk past it."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.total = 0
        self.limit = voices.max_bytes()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.total += len(raw_data)
        if self.total > self.limit:
            self.file.close()
            raise content.content_too_large(field=self.field_name or "file", limit=self.limit)
        return super().receive_data_chunk(raw_data, start)
