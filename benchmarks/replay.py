"""Replaying decisions (issue 13 item 8): decisions replayed per second by the pure replay core
(:mod:`governance.replaying`) that ``manage.py replay_decisions`` and ``python -m ledger.verify
--replay`` share, over a synthetic log held in memory (no database, no HTTP: the figure is the
replay's own).

Two logs, so that the cost of a decision can be seen not to grow with the catalogue: 1,000
parties, 10,000 or 50,000 works (compositions and recordings embodying them), 20,000 or 100,000
rights shares (a recording's master, performer and likeness shares and its composition's
publishing share, which flows to it), 2,000 consent rules, the consent matrix, then 5,000 or
20,000 decisions, each about one recording, committed fields sealed as the service seals them
(``governance.ledgering.CONFIDENTIAL``). Each entry is decoded from its canonical bytes, its
openings checked against its commitments, and fed to the replay, as both drivers do; every
decision must replay as ledgered. Decisions per CPU second count the CPU time of the decision
entries (decoding, opening the trace, re-evaluating); the whole log's rate is given too.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from typing import Any

from governance.replaying import Replay, open_entry
from ledger import canonical, commitments

PARTIES = 1_000
RULES = 2_000
USES = ("train", "analyze", "voice")
MATRIX = {
    "train": ["master", "publishing", "performer"],
    "analyze": ["master"],
    "voice": ["likeness"],
}
CONFIDENTIAL = {"rights_share": ("share",), "consent_rule": ("licensees", "note"),
                "decision": ("trace",)}  # fmt: skip
AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _log(
    rng: random.Random, *, compositions: int, decisions: int
) -> list[tuple[bytes, list[commitments.Opening]]]:
    """The log's entries (canonical bytes) with their openings; decisions' outcomes blank."""
    items: list[tuple[str, dict[str, Any]]] = [("consent_matrix", {"version": 1, "matrix": MATRIX})]
    parties = [_id(rng) for _ in range(PARTIES)]
    kinds = ("label", "publisher", "artist")
    for n, party in enumerate(parties):
        posture = "opt_out" if n % 3 else "opt_in"
        items.append(("party", {"id": party, "name": f"Party {n}", "kind": kinds[n % 3],
                                "default_posture": posture}))  # fmt: skip
    recordings = []
    for n in range(compositions):
        composition, recording = _id(rng), _id(rng)
        artist = parties[rng.randrange(2, PARTIES, 3)]
        items.append(("work", {"id": composition, "title": f"Song {n}", "credits": []}))
        credits = [{"party": artist, "role": "main_artist"}]
        items.append(("work", {"id": recording, "title": f"Recording {n}",
                               "composition": composition, "credits": credits}))  # fmt: skip
        for work, right, holder in (
            (composition, "publishing", parties[rng.randrange(1, PARTIES, 3)]),
            (recording, "master", parties[rng.randrange(0, PARTIES, 3)]),
            (recording, "performer", artist),
            (recording, "likeness", artist),
        ):
            items.append(("rights_share", {
                "id": _id(rng), "work": work, "holder": holder, "right": right, "share": "100",
                "territory_mode": "worldwide", "territories": [], "valid_from": None,
                "valid_until": None,
            }))  # fmt: skip
        recordings.append(recording)
    for n in range(RULES):
        items.append(("consent_rule", {
            "rule": _id(rng), "version": 1, "owner": rng.choice(parties), "scope": "all_works",
            "uses": [rng.choice(USES)], "effect": rng.choice(("allow", "deny", "conditional")),
            "scope_works": [], "scope_artist": None, "licensee_mode": "any", "licensees": [],
            "territory_mode": "include" if n % 4 == 0 else "worldwide",
            "territories": ["FR"] if n % 4 == 0 else [], "window_start": None,
            "window_end": None, "commercial": "both",
            "obligations": {"attribution": "Credit the artist"}, "note": f"Rule {n}",
        }))  # fmt: skip
    licensee = parties[0]
    for _ in range(decisions):
        recording = rng.choice(recordings)
        items.append(("decision", {
            "decision": _id(rng), "licensee": licensee, "use": rng.choice(USES),
            "territories": rng.choice(([], ["FR"], ["DE", "US"])), "commercial": True,
            "at": canonical.format_time(AT), "period": None, "outcome": "",
            "works": [{"work": recording, "matches": [], "identified_by": None}],
            "matrix_version": 1, "trace": {"trace_version": 1, "works": [recording]},
        }))  # fmt: skip
    log = []
    for kind, payload in items:
        sealed, openings = commitments.seal(payload, CONFIDENTIAL.get(kind, ()))
        log.append((canonical.encode_entry(kind=kind, time=AT, payload=sealed), openings))
    return log


def _with_outcomes(
    log: list[tuple[bytes, list[commitments.Opening]]],
) -> list[tuple[bytes, list[commitments.Opening]]]:
    """The log with each decision's outcome the one the evaluator gives (as the service
    ledgers it), found by one replay."""
    replay = Replay()
    outcomes: dict[int, str] = {}
    for index, (data, openings) in enumerate(log):
        entry, _ = open_entry(canonical.decode_entry(data), openings)
        replay.feed(index, entry)
        if entry.kind == "decision" and replay.differences:
            outcomes[index] = replay.differences.pop().replayed
    done = []
    for index, (data, openings) in enumerate(log):
        if index in outcomes:
            entry = canonical.decode_entry(data)
            payload = {**entry.payload, "outcome": outcomes[index]}
            data = canonical.encode_entry(kind=entry.kind, time=AT, payload=payload)
        done.append((data, openings))
    return done


def main() -> None:
    print("## replaying decisions (governance.replaying, in memory)", flush=True)
    # Two catalogues: the cost of a decision must not grow with the shares in the log.
    for compositions, decisions in ((5_000, 5_000), (25_000, 20_000)):
        run(compositions=compositions, decisions=decisions)


def run(*, compositions: int, decisions: int) -> None:
    log = _with_outcomes(_log(random.Random(13), compositions=compositions, decisions=decisions))
    shares = sum(1 for data, _ in log if b'"type":"rights_share"' in data)
    replay = Replay()
    deciding = 0.0  # CPU time on decision entries: decoding, opening, re-evaluating
    wall, cpu = time.perf_counter(), time.process_time()
    for index, (data, openings) in enumerate(log):
        started = time.process_time()
        entry = canonical.decode_entry(data)
        replay.feed(index, *open_entry(entry, openings))
        if entry.kind == "decision":
            deciding += time.process_time() - started
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if replay.replayed != decisions or replay.differences:
        raise RuntimeError(
            f"{replay.replayed} replayed, {len(replay.differences)} differ: "
            f"{replay.differences[:1]}"
        )
    print(f"{len(log):,} entries ({shares:,} rights shares, {decisions:,} decisions): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU for the whole log ({len(log) / cpu:,.0f} "
          f"entries per CPU second); the decisions {deciding:.1f} s CPU: "
          f"{decisions / deciding:,.0f} decisions per CPU second "
          f"({decisions / wall:,.0f} decisions/s by wall clock over the whole log)",
          flush=True)  # fmt: skip
