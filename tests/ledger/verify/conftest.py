"""Fake logs for the offline verifier's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.merkle import leaf_hash
from ledger.merkle_trees import MemoryTree
from tests.ledger.fakelog import FakeLog


@pytest.fixture
def log() -> Iterator[FakeLog]:
    with FakeLog() as fake:
        fake.append_test_entries(57)
        yield fake


@pytest.fixture(scope="module")
def big_log() -> Iterator[FakeLog]:
    """Four pages: 0-999, 1000-1999, 2000-2999, 3000-3499."""
    with FakeLog() as fake:
        fake.append_test_entries(3500)
        yield fake


@pytest.fixture
def tampered(big_log: FakeLog) -> Iterator[FakeLog]:
    """The big log, restored after each test's tampering."""
    original = list(big_log.entries)
    yield big_log
    big_log.served_data.clear()
    big_log.served_leaf_hash.clear()
    big_log.skip_index = None
    big_log.page_limit = 1000
    if big_log.entries != original:
        big_log.entries[:] = original
        big_log.tree = MemoryTree(leaf_hash(e) for e in original)
