"""A problem found while streaming a list item is kept whatever items follow (the reader's
document used to start a new problem list with every item it was handed)."""

from __future__ import annotations

from governance.ddex import parse_ern
from tests.ddex_samples import ern_document


def test_a_party_without_reference_is_reported_though_other_items_follow() -> None:
    document = ern_document(recordings=3, version="4.3", seed=11).replace(
        b"<PartyList>\n",
        b"<PartyList>\n    <Party><PartyName><FullName>Nobody</FullName></PartyName></Party>\n",
    )

    message = parse_ern(document)

    assert [(p.xpath, p.reason) for p in message.problems] == [
        ("/ern:NewReleaseMessage/PartyList/Party[1]", "Party rejected: it has no PartyReference")
    ]
    assert len(message.recordings) == 3
