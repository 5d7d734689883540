"""Replaying decisions from the ledger alone: the pure core (no Django, no database).

Walks the log's entries in order, rebuilding from them the state a decision depends on — parties
and their postures (``party``), works, their credited artists and a recording's composition
(``work``), rights shares (a recording's include its composition's publishing shares,
``evaluation.FLOWS``; ``rights_share``, ``rights_share_removed``), rule versions
(``consent_rule``, ``consent_rule_withdrawn``) and the consent matrix (``consent_matrix``) —
and at each ``decision`` entry re-evaluates the question it records, with the works, the
artists (``artists``: matched by name or voice, decided on their likeness) and the matches as
ledgered, using :mod:`governance.evaluation`: a decision differs if its outcome does, or if it
used other rule versions than those in force at its position (the log's order is the order in
which decisions and changes of state saw each other, :mod:`governance.ordering`).

The state is indexed by work (its shares) and by party (its rules), so a decision costs what its
own works, their holders and those holders' rules cost, however large the catalogue: replay is
linear in the log (docs/ledger.md, "Replaying decisions").

Confidential fields are commitments in the log (``governance.ledgering.CONFIDENTIAL``): the
drivers give each entry with its openings to :func:`open_entry`, which checks every opening
against its commitment (:func:`ledger.commitments.unseal`). An entry that cannot be opened is
reported as a difference naming it, and its state is left out (so decisions that depended on
it are reported too, rather than replayed from a value nobody can vouch for).

Two drivers feed it: ``manage.py replay_decisions`` reads the entries and openings from the
database (:mod:`governance.replay`); ``python -m ledger.verify --replay`` fetches them over HTTP
from the log it has just verified (:mod:`governance.replaying.offline`). The state rebuilt, and
what is remembered of it for decisions, is :mod:`governance.replaying.state`'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from governance import evaluation
from governance.replaying.disputes import KINDS as DISPUTE_KINDS
from governance.replaying.disputes import DisputeReplay
from governance.replaying.state import ReplayState
from ledger import canonical, commitments

__all__ = [
    "GC_THRESHOLD",
    "Difference",
    "Replay",
    "ReplayState",
    "fewer_collections",
    "open_entry",
    "replay_entries",
]


@dataclass(frozen=True)
class Difference:
    """A decision that replays differently (``kind="decision"``), a settlement whose outcome
    or obligations do not follow from its decision's entry and its reviews
    (``kind="settlement"``), an entry whose committed fields could not be opened
    (``kind="opening"``: ``ledgered`` is the entry's type), or a step of a dispute the rules do
    not give (``kind="dispute"``: ``ledgered`` is the entry's type,
    :mod:`governance.replaying.disputes`)."""

    index: int
    decision: str
    ledgered: str
    replayed: str
    reason: str
    kind: str = "decision"

    def describe(self) -> str:
        if self.kind == "opening":
            return f"entry {self.index} ({self.ledgered}): {self.reason}"
        if self.kind == "dispute":
            return (
                f"entry {self.index} ({self.ledgered}) of decision {self.decision}: {self.reason}"
            )
        if self.kind == "settlement":
            return (
                f"entry {self.index}: the settlement of decision {self.decision} was"
                f" {self.ledgered}, settles as {self.replayed}: {self.reason}"
            )
        return (
            f"entry {self.index}: decision {self.decision} was {self.ledgered}, replays as "
            f"{self.replayed}: {self.reason}"
        )


def _until(period: Mapping[str, Any] | None) -> dt.datetime | None:
    """The end of the period of use a decision asked about (``evaluation.OPEN_END``: none);
    None for an instant (and for entries written before periods were ledgered, which were
    decided at their ``at`` alone)."""
    if period is None:
        return None
    end = period.get("end")
    return evaluation.OPEN_END if end is None else canonical.parse_time(end)


def open_entry(
    entry: canonical.Entry,
    openings: Iterable[commitments.Openable],
    *,
    committed: Mapping[str, str] | None = None,
) -> tuple[canonical.Entry, str | None]:
    """The entry with its committed fields replaced by their verified clear values, and None;
    or, if they cannot be opened (an opening missing, extra or not matching its commitment),
    the entry as it is and why. ``committed``: the entry's commitments
    (:func:`ledger.commitments.commitments_of` its payload), if the caller has them already."""
    if committed is None:
        committed = commitments.commitments_of(entry.payload)
    if not committed:
        return entry, None  # nothing committed: an opening given for it is not used
    try:
        payload = commitments.unseal(entry.payload, openings, committed=committed)
    except commitments.CommitmentError as exc:
        return entry, str(exc)
    return canonical.Entry(entry.v, entry.kind, entry.time, payload), None


class Replay:
    """Entries fed in log order (:meth:`feed`); the decisions replayed and the differences."""

    def __init__(self, *, progress: Callable[[int], None] | None = None) -> None:
        self.state = ReplayState()
        self.disputes = DisputeReplay()
        self.replayed = 0
        self.differences: list[Difference] = []
        self._progress = progress
        self._waiting: dict[str, Mapping[str, Any]] = {}
        """A ``review`` decision's id → the obligations its entry recorded (what an approval
        settles it with), until its ``decision_settled`` entry."""

    def feed(self, index: int, entry: canonical.Entry, unopened: str | None = None) -> None:
        """Take entry ``index`` (opened by :func:`open_entry`; ``unopened``: why it could not
        be)."""
        p = entry.payload
        if unopened is not None:
            self.differences.append(
                Difference(index, p.get("decision", "-"), entry.kind, "-", unopened, "opening")
            )
            if entry.kind != "decision" and entry.kind not in DISPUTE_KINDS:
                return
        if entry.kind in DISPUTE_KINDS:
            # (their committed statements and reasons are not needed to replay the step)
            why = self.disputes.feed(entry.kind, entry.time, p)
            if why is not None:
                decision = str(p.get("decision", "-"))
                self.differences.append(
                    Difference(index, decision, entry.kind, "-", why, "dispute")
                )
            return
        if entry.kind == "decision_settled":  # changes no state
            difference = self._settle(index, p)
            if difference is not None:
                self.differences.append(difference)
            return
        if entry.kind != "decision":
            self.state.apply(entry.kind, p)
            return
        if p["outcome"] == "error":
            return
        if p["outcome"] == "review":
            self._waiting[p["decision"]] = p.get("obligations") or {}
        self.replayed += 1
        if self._progress is not None and self.replayed % 1000 == 0:
            self._progress(self.replayed)
        difference = self._decide(index, p)
        if difference is not None:
            self.differences.append(difference)

    def _decide(self, index: int, p: Mapping[str, Any]) -> Difference | None:
        state = self.state
        matrix = state.matrices.get(int(p["matrix_version"] or 0))
        if matrix is None:
            return Difference(
                index,
                p["decision"],
                p["outcome"],
                "-",
                f"matrix version {p['matrix_version']} not in the log",
            )
        question = evaluation.Question(
            use=p["use"],
            licensee_id=p["licensee"],
            territories=tuple(p["territories"]),
            at=canonical.parse_time(p["at"]),
            commercial=bool(p["commercial"]),
            until=_until(p.get("period")),
        )
        works = [state.work_facts(w) for w in p["works"]]
        artists = [state.artist_facts(a) for a in p.get("artists", ())]
        facts, by_owner = state.decision_facts(
            works, matrix_version=int(p["matrix_version"]), matrix=matrix, artists=artists
        )
        try:
            outcome, cited = evaluation.decide_item(
                question, works, facts, by_owner=by_owner, artists=artists
            )
        except ValueError as exc:  # the log lacks a fact the decision used (e.g. a party)
            return Difference(index, p["decision"], p["outcome"], "-", str(exc))
        if outcome != p["outcome"]:
            # (the reason, from the whole evaluation: only a difference needs it)
            result = evaluation.evaluate_item(question, works, facts, artists=artists)
            return Difference(index, p["decision"], p["outcome"], result.outcome, result.reason)
        if "rule_versions" in p:
            ledgered = [(r["rule"], int(r["version"])) for r in p["rule_versions"]]
            if cited != ledgered:
                # The same outcome from other versions: the decision read state its position in
                # the log does not hold (governance.ordering).
                reason = (
                    f"cites rule versions {_versions(ledgered)}; at its position in the log"
                    f" {_versions(cited)} apply"
                )
                return Difference(index, p["decision"], p["outcome"], outcome, reason)
        return None

    def _settle(self, index: int, p: Mapping[str, Any]) -> Difference | None:
        """Settle the review again from its decision's entry (the obligations it recorded) and
        the reviewers' answers, by the settlement rule (``settlements.settled``): the outcome,
        and, in an entry that records them (settlement rule 2, since the fix that keeps the
        other holders' conditions), the obligations. An entry without ``obligations`` was
        written by rule 1, whose outcome is the same function of the same facts."""
        decision = p.get("decision", "-")
        pending = self._waiting.pop(decision, None)
        if pending is None:
            reason = "it settles no review decision earlier in the log (or settles one twice)"
            return Difference(index, decision, p.get("outcome", "-"), "-", reason, "settlement")
        statuses = [r.get("status") for r in p.get("reviews", [])]
        if not statuses or any(s not in ("approved", "denied") for s in statuses):
            reason = f"its reviews are not all answered ({', '.join(map(str, statuses))})"
            return Difference(index, decision, p.get("outcome", "-"), "-", reason, "settlement")
        outcome, obligations = evaluation.settle(statuses, pending)
        if outcome != p.get("outcome"):
            reason = f"the reviews ({', '.join(map(str, statuses))}) and the obligations recorded"
            return Difference(index, decision, p.get("outcome", "-"), outcome, reason, "settlement")
        if "obligations" in p and dict(p["obligations"] or {}) != obligations:
            reason = (
                f"it records obligations {_json(p['obligations'])}; the decision's"
                f" entry settles with {_json(obligations)}"
            )
            return Difference(index, decision, outcome, outcome, reason, "settlement")
        return None


def _json(value: Any) -> str:
    return canonical.encode_json(value).decode()


def _versions(pairs: list[tuple[str, int]]) -> str:
    return ", ".join(f"{rule} v{version}" for rule, version in pairs) or "none"


def replay_entries(
    entries: Iterable[tuple[int, canonical.Entry, str | None]],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[Difference]]:
    """Replay every ``decision`` among ``entries`` (index, opened entry, why it could not be
    opened), given in log order; (decisions replayed, differences)."""
    replay = Replay(progress=progress)
    for index, entry, unopened in entries:
        replay.feed(index, entry, unopened)
    return replay.replayed, replay.differences


GC_THRESHOLD = (50_000, 20, 100)
"""The garbage collector's thresholds during a replay (:func:`gc.set_threshold`)."""


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with :data:`GC_THRESHOLD` (a second process forked in it inherits it);
    the thresholds as they were afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
