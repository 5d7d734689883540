"""An artist's voice (likeness): the artist alone hands in reference recordings of its own voice
(multipart ``file`` parts), which a worker embeds in the ``voice`` space; the audio is never
stored, only each recording's SHA-256 and the vectors (docs/matching.md, "The voice space").
The artist and auditors read what is registered; nobody else learns whether it is.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.parsers import MultiPartParser
from api.strict import StrictSerializer
from api.uploads import VoiceUploadHandler
from governance import selectors
from governance.models import VoiceEnrolment
from governance.services import voices as voice_services


class VoiceFileSerializer(serializers.Serializer[Any]):
    sha256 = serializers.CharField(help_text="SHA-256 of the recording (hex).")
    size = serializers.IntegerField(help_text="Bytes handed in.")
    seconds = serializers.FloatField(required=False, help_text="Decoded duration.")
    speech_seconds = serializers.FloatField(required=False, help_text="Seconds of speech found.")
    vector_count = serializers.IntegerField(required=False)
    duplicate = serializers.BooleanField(
        required=False, help_text="Registered before: it added no vector."
    )
    error = serializers.CharField(required=False, help_text="Why the file cannot be used.")
    detail = serializers.CharField(required=False)


class VoiceEnrolmentSerializer(serializers.ModelSerializer[VoiceEnrolment]):
    artist = serializers.UUIDField(source="artist_id")
    files = VoiceFileSerializer(many=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = VoiceEnrolment
        fields = ["id", "artist", "status", "error", "detail", "files", "model", "model_version",
                  "vector_count", "created_at", "completed_at", "url"]  # fmt: skip

    def get_url(self, enrolment: VoiceEnrolment) -> str:
        """Where the enrolment's status is read (``Location`` of its 202)."""
        return reverse(
            "api:likeness-voice-detail",
            kwargs={"party_id": enrolment.artist_id, "enrolment_id": enrolment.pk},
        )


class RecordingSerializer(serializers.Serializer[Any]):
    sha256 = serializers.CharField()
    vector_count = serializers.IntegerField()


class VoiceRegisteredSerializer(serializers.Serializer[Any]):
    artist = serializers.UUIDField()
    space = serializers.CharField()
    model = serializers.CharField()
    model_version = serializers.CharField(help_text="The version matched against now.")
    recording_count = serializers.IntegerField()
    vector_count = serializers.IntegerField()
    recordings = RecordingSerializer(many=True)
    enrolments = VoiceEnrolmentSerializer(many=True, help_text="Every upload, newest first.")


class LikenessVoiceView(GenericAPIView[VoiceEnrolment]):
    """An artist's voice references. ``GET``: what is registered for the model version matched
    against now (recordings by SHA-256, vector count) and every upload's job; the artist and
    auditors only. ``POST`` (the artist itself, editor or admin): one or more recordings as
    multipart ``file`` parts: 202 and a job (``received``, then ``completed`` or ``failed``, the
    latter naming each bad file's reason, with nothing of the upload kept)."""

    class VoiceUploadSerializer(StrictSerializer):
        """Recordings of the artist's own voice, one multipart ``file`` part each."""

        file = serializers.ListField(
            child=serializers.FileField(),
            min_length=1,
            max_length=voice_services.MAX_FILES,
            help_text="Recordings of speech or singing: WAV, FLAC, MP3, AAC/M4A, OGG Vorbis or "
            "Opus; each at least 1.6 s of voice.",
        )

    serializer_class = VoiceEnrolmentSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(tags=["catalog"], operation_id="likeness_voice_retrieve",
                   responses={200: VoiceRegisteredSerializer})  # fmt: skip
    def get(self, request: Request, party_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        artist = selectors.voice_artist(actor=actor, artist_id=party_id)
        registered = voice_services.voice_registered(artist)
        enrolments = selectors.voice_enrolment_list(actor=actor, artist=artist)
        body = {
            "artist": artist.pk, "space": voice_services.SPACE, "model": registered.model,
            "model_version": registered.model_version,
            "recording_count": len(registered.recordings),
            "vector_count": registered.vector_count,
            "recordings": [{"sha256": h, "vector_count": n} for h, n in registered.recordings],
            "enrolments": enrolments,
        }  # fmt: skip
        return Response(VoiceRegisteredSerializer(body).data)

    @extend_schema(tags=["catalog"], operation_id="likeness_voice_create",
                   request={"multipart/form-data": VoiceUploadSerializer},
                   responses={202: VoiceEnrolmentSerializer,
                              200: VoiceEnrolmentSerializer})  # fmt: skip
    def post(self, request: Request, party_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        likeness = selectors.likeness_get(actor=actor, artist_id=party_id)
        voice_services.voice_submit_check(actor=actor, artist=likeness.artist)  # before the body
        # The bytes are counted as they arrive: an oversized upload is refused before it is
        # read whole (api/uploads.py).
        request._request.upload_handlers = [VoiceUploadHandler(request._request)]
        data = self.VoiceUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrolment, created = voice_services.voice_submit(
            actor=actor, artist=likeness.artist,
            files=[upload.read() for upload in data.validated_data["file"]], now=timezone.now(),
        )  # fmt: skip
        body = self.get_serializer(enrolment).data
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        response = Response(body, status=code)
        response["Location"] = body["url"]
        return response


class LikenessVoiceDetailView(GenericAPIView[VoiceEnrolment]):
    """One upload of an artist's voice references: its job's status, and what it made of each
    file."""

    serializer_class = VoiceEnrolmentSerializer

    @extend_schema(tags=["catalog"], operation_id="likeness_voice_enrolment_retrieve")
    def get(self, request: Request, party_id: uuid.UUID, enrolment_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        artist = selectors.voice_artist(actor=actor, artist_id=party_id)
        enrolment = selectors.voice_enrolment_get(
            actor=actor, artist=artist, enrolment_id=enrolment_id
        )
        return Response(self.get_serializer(enrolment).data)
