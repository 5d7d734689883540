"""AI declarations read from ERN feeds (issue 17, item 6): ERN 4.3.2's ``ContainsAI`` and
``Contributor/AiContribution``, and the free-form ``Keywords`` flags of 3.8 details and 4.x
TrackReleases; the strongest statement wins; a value outside DDEX's vocabulary rejects its
recording naming the element and its line. Pure: the reader alone, no database."""

from __future__ import annotations

import pytest

from governance.ddex import parse_ern
from tests.ddex_samples import ern_document


def declared(document: bytes) -> dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]]:
    message = parse_ern(document)
    assert message.problems == ()
    return {
        r.resource_reference: (r.ai_declaration, r.ai_parts, r.ai_declared_in)
        for r in message.recordings
    }


def line_of(document: bytes, needle: bytes) -> int:
    return document[: document.index(needle)].count(b"\n") + 1


def test_ern_432_contains_ai_is_read_per_recording() -> None:
    document = ern_document(recordings=4, version="4.3.2", ai={1: "All", 2: "Partly", 3: "None"})
    assert b'xmlns:ern="http://ddex.net/xml/ern/432"' in document
    assert declared(document) == {
        "A1": ("generated", (), ("ContainsAI",)),
        "A2": ("assisted", (), ("ContainsAI",)),
        "A3": ("none", (), ("ContainsAI",)),
        "A4": (None, (), ()),  # it says nothing: no declaration, not "none"
    }


def test_ern_382_keywords_flags_are_read_and_other_keywords_are_not() -> None:
    document = ern_document(
        recordings=5,
        version="3.8.2",
        ai={1: "pop; AI-generated", 2: "ai assisted", 3: "ContainsAI = None", 4: "AI, robots"},
    )
    assert declared(document) == {
        "A1": ("generated", (), ("Keywords",)),
        "A2": ("assisted", (), ("Keywords",)),
        "A3": ("none", (), ("Keywords",)),
        "A4": (None, (), ()),
        "A5": (None, (), ()),
    }


def test_a_contributor_declared_made_with_ai_makes_the_recording_at_least_assisted() -> None:
    document = ern_document(recordings=2, version="4.3.2", ai={1: "None"})
    contributor = (
        b'<Contributor SequenceNumber="1"><ContributorPartyReference>P_ARTIST'
        b"</ContributorPartyReference><Role>Producer</Role><AiContribution>All</AiContribution>"
        b"</Contributor>\n      <ResourceRightsController>"
    )
    document = document.replace(b"<ResourceRightsController>", contributor)
    # A "None" of the recording never hides the part a contributor declared made with AI.
    assert declared(document) == {
        "A1": ("assisted", ("Producer",), ("AiContribution", "ContainsAI")),  # document order
        "A2": ("assisted", ("Producer",), ("AiContribution",)),
    }


def test_a_4x_track_release_keyword_flags_its_recording() -> None:
    document = ern_document(recordings=2, version="4.3.2", ai={2: "Partly"})
    track_releases = b"""    <TrackRelease>
      <ReleaseReference>R1</ReleaseReference>
      <ReleaseId><ProprietaryId Namespace="PADPIDA2024051501N">T1</ProprietaryId></ReleaseId>
      <ReleaseResourceReference>A1</ReleaseResourceReference>
      <ReleaseLabelReference>P_LABEL</ReleaseLabelReference>
      <Genre><GenreText>Folk</GenreText></Genre>
      <Keywords>AI-generated</Keywords>
    </TrackRelease>
    <TrackRelease>
      <ReleaseReference>R2</ReleaseReference>
      <ReleaseId><ProprietaryId Namespace="PADPIDA2024051501N">T2</ProprietaryId></ReleaseId>
      <ReleaseResourceReference>A2</ReleaseResourceReference>
      <ReleaseLabelReference>P_LABEL</ReleaseLabelReference>
      <Genre><GenreText>Folk</GenreText></Genre>
      <Keywords>ContainsAI=None</Keywords>
    </TrackRelease>
  </ReleaseList>"""
    document = document.replace(b"  </ReleaseList>", track_releases)
    assert declared(document) == {
        "A1": ("generated", (), ("Keywords",)),
        "A2": ("assisted", (), ("ContainsAI", "Keywords")),  # the strongest statement wins
    }


@pytest.mark.parametrize(
    ("bad", "element"),
    [
        (b"<ContainsAI>All</ContainsAI>", b"<ContainsAI>Yes</ContainsAI>"),
        (b"<ContainsAI>All</ContainsAI>", b"<ContainsAI>UserDefined</ContainsAI>"),
    ],
)
def test_a_value_outside_the_vocabulary_rejects_its_recording_naming_element_and_line(
    bad: bytes, element: bytes
) -> None:
    document = ern_document(recordings=3, version="4.3.2", ai={2: "All"}).replace(bad, element)
    message = parse_ern(document)
    value = element.split(b">")[1].split(b"<")[0].decode()
    assert [(p.xpath, p.line, p.reason) for p in message.problems] == [
        (
            "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A2']/ContainsAI",
            line_of(document, element),
            f"SoundRecording A2 rejected: ContainsAI {value!r} is not one of All, Partly, None "
            "(DDEX ContainsAI)",
        )
    ]
    assert [r.resource_reference for r in message.recordings] == ["A1", "A3"]


def test_a_bad_ai_contribution_rejects_its_recording_too() -> None:
    document = ern_document(recordings=2, version="4.3.2")
    contributor = (
        b"<Contributor><ContributorPartyReference>P_ARTIST</ContributorPartyReference>"
        b"<Role>Producer</Role><AiContribution>Mostly</AiContribution></Contributor>\n"
        b"      <ResourceRightsController>"
    )
    document = document.replace(b"<ResourceRightsController>", contributor, 1)
    message = parse_ern(document)
    assert [(p.xpath, p.line, p.reason) for p in message.problems] == [
        (
            "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A1']"
            "/Contributor/AiContribution",
            line_of(document, b"<AiContribution>"),
            "SoundRecording A1 rejected: AiContribution 'Mostly' is not one of All, Partly, "
            "None (DDEX ContainsAI)",
        )
    ]
    assert [r.resource_reference for r in message.recordings] == ["A2"]


def test_ern_43_has_no_contains_ai_in_the_sample_builder() -> None:
    with pytest.raises(ValueError, match=r"ERN 4\.3 has no ContainsAI"):
        ern_document(recordings=1, version="4.3", ai={1: "All"})
