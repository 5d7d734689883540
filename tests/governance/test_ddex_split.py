"""Reading a message's SoundRecordings in two processes (``parse_ern_digested(split=True)``,
which a large file gets) answers exactly what one process does, faults, duplicates and digests
included; and reading reports its progress in bytes."""

from __future__ import annotations

import re

import pytest

from governance.ddex import DdexError
from governance.ddex.digest import parse_ern_digested
from tests.ddex_samples import ern_document


def _faulty(version: str) -> bytes:
    """Nine recordings, some of them rejected: a duplicated ISRC (both carriers), a bad one."""
    data = ern_document(recordings=9, version=version, seed=7)
    isrcs = re.findall(rb"<ISRC>([^<]+)</ISRC>", data)
    data = data.replace(b"<ISRC>" + isrcs[4] + b"</ISRC>", b"<ISRC>" + isrcs[1] + b"</ISRC>")
    return data.replace(b"<ISRC>" + isrcs[6] + b"</ISRC>", b"<ISRC>NOT-AN-ISRC</ISRC>")


@pytest.mark.parametrize("version", ["4.3", "3.8.2"])
def test_two_processes_read_what_one_reads(version: str) -> None:
    data = _faulty(version)
    alone = parse_ern_digested(data, salt="s", split=False)
    split = parse_ern_digested(data, salt="s", split=True)
    assert split == alone
    assert len(alone.message.recordings) == 6  # 9, less both carriers of one ISRC and a bad one
    assert len(alone.message.problems) == 3


def test_a_split_re_delivery_skips_what_is_known() -> None:
    data = ern_document(recordings=9, seed=8)
    first = parse_ern_digested(data, salt="s", split=False)
    known = {element: (digest, next(r.isrc for r in first.message.recordings
                                    if r.resource_reference == ref))
             for ref, (digest, element) in first.digests.items()}  # fmt: skip
    again = parse_ern_digested(data, known=known, salt="s", split=True)
    assert again == parse_ern_digested(data, known=known, salt="s", split=False)
    assert not again.message.recordings
    assert len(again.unchanged) == 9


def test_an_unreadable_file_fails_in_a_split_read_too() -> None:
    data = ern_document(recordings=9, seed=9)
    with pytest.raises(DdexError, match="not well-formed"):
        parse_ern_digested(data[: len(data) // 2], split=True)


def test_reading_reports_bytes_read_up_to_the_size() -> None:
    data = ern_document(recordings=300, seed=10)
    seen: list[tuple[int, int]] = []
    parse_ern_digested(data, split=True, on_read=lambda done, size: seen.append((done, size)))
    assert len(seen) > 10
    assert all(size == len(data) for _, size in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (len(data), len(data))
