"""Replay decisions from the ledger alone (``manage.py replay_decisions``).

Walks the log in order, rebuilding from its entries the state a decision depends on — parties
and their postures (``party``), works, their credited artists and a recording's composition
(``work``), rights shares (a recording's include its composition's publishing shares,
``evaluation.FLOWS``; ``rights_share``, ``rights_share_removed``), rule versions
(``consent_rule``, ``consent_rule_withdrawn``) and the consent matrix (``consent_matrix``) —
and at each ``decision`` entry re-evaluates the question it records, with the works and matches as
ledgered, using :mod:`governance.evaluation`: a decision differs if its outcome does, or if it
used other rule versions than those in force at its position (the log's order is the order in
which decisions and changes of state saw each other, :mod:`governance.ordering`). Nothing is
read from the registry's tables, so a database edited behind the ledger's back cannot hide a
changed outcome.

Confidential fields are commitments in the log (``governance.ledgering.CONFIDENTIAL``): replay
takes each entry's openings (``ledger_opening``), checks every one against its commitment
(:func:`ledger.commitments.unseal`) and evaluates with the clear values. An opening that is
missing or does not match is reported as a difference naming the entry, and that entry's state
is left out (so decisions that depended on it are reported too, rather than replayed from a
value nobody can vouch for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from governance import evaluation
from governance.evaluation import FLOWS
from governance.terms import Obligations, RuleContent
from ledger import canonical, commitments
from ledger import openings as ledger_openings
from ledger.models import Entry

CHUNK = 5000


@dataclass(frozen=True)
class Difference:
    """A decision that replays differently (``kind="decision"``), or an entry whose committed
    fields could not be opened (``kind="opening"``: ``ledgered`` is the entry's type)."""

    index: int
    decision: str
    ledgered: str
    replayed: str
    reason: str
    kind: str = "decision"

    def describe(self) -> str:
        if self.kind == "opening":
            return f"entry {self.index} ({self.ledgered}): {self.reason}"
        return (
            f"entry {self.index}: decision {self.decision} was {self.ledgered}, replays as "
            f"{self.replayed}: {self.reason}"
        )


@dataclass
class ReplayState:
    parties: dict[str, evaluation.Holder] = field(default_factory=dict)
    artists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # work → artist parties
    titles: dict[str, str] = field(default_factory=dict)
    compositions: dict[str, str] = field(default_factory=dict)  # recording → its composition
    shares: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, RuleContent] = field(default_factory=dict)
    matrices: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def apply(self, kind: str, p: Mapping[str, Any]) -> None:
        if kind == "party":
            self.parties[p["id"]] = evaluation.Holder(
                p["id"], p["name"], p["kind"], p.get("default_posture", "opt_in")
            )
        elif kind == "work":
            self.titles[p["id"]] = p["title"]
            if p.get("composition"):
                self.compositions[p["id"]] = p["composition"]
            else:
                self.compositions.pop(p["id"], None)
            self.artists[p["id"]] = tuple(
                c["party"]
                for c in p.get("credits", [])
                if c.get("party") and c["role"] in ("main_artist", "featured")
            )
        elif kind == "rights_share":
            self.shares[p["id"]] = dict(p)
        elif kind == "rights_share_removed":
            self.shares.pop(p["id"], None)
        elif kind == "consent_rule":
            self.rules[p["rule"]] = _rule(p)
        elif kind == "consent_rule_withdrawn":
            self.rules.pop(p["rule"], None)
        elif kind == "consent_matrix":
            self.matrices[int(p["version"])] = {u: tuple(r) for u, r in p["matrix"].items()}

    def work_facts(self, w: Mapping[str, Any]) -> evaluation.WorkFacts:
        """The work as the decision saw it: its own shares and, for a recording, the shares of
        the rights it takes from its composition (``evaluation.FLOWS``), as the registry's
        facts (``governance.services.facts``) read them."""
        work_id = w["work"]
        composition = self.compositions.get(work_id)
        shares = tuple(
            evaluation.Share(
                s["holder"],
                s["right"],
                Decimal(s["share"]),
                s["territory_mode"],
                frozenset(s["territories"]),
                _date(s["valid_from"]),
                _date(s["valid_until"]),
                composition=None if s["work"] == work_id else composition,
            )
            for s in self.shares.values()
            if s["work"] == work_id
            or (composition is not None and s["work"] == composition and s["right"] in FLOWS)
        )
        matches = tuple(
            evaluation.Match(m["space"], float(m["score"]), float(m["threshold"]))
            for m in w.get("matches", [])
        )
        return evaluation.WorkFacts(
            work_id=work_id,
            title=self.titles.get(work_id, ""),
            shares=shares,
            artist_ids=self.artists.get(work_id, ()),
            matches=matches,
            identified_by=w.get("identified_by"),
            composition_id=composition,
        )


def _versions(pairs: list[tuple[str, int]]) -> str:
    return ", ".join(f"{rule} v{version}" for rule, version in pairs) or "none"


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else canonical.parse_time(value)


def _until(period: Mapping[str, Any] | None) -> dt.datetime | None:
    """The end of the period of use a decision asked about (``evaluation.OPEN_END``: none);
    None for an instant (and for entries written before periods were ledgered, which were
    decided at their ``at`` alone)."""
    if period is None:
        return None
    end = period.get("end")
    return evaluation.OPEN_END if end is None else canonical.parse_time(end)


def _rule(p: Mapping[str, Any]) -> RuleContent:
    o = p.get("obligations") or {}
    return RuleContent(
        rule_id=p["rule"],
        version=int(p["version"]),
        owner_id=p["owner"],
        scope=p["scope"],
        uses=frozenset(p["uses"]),
        effect=p["effect"],
        scope_works=frozenset(p["scope_works"]),
        scope_artist_id=p.get("scope_artist"),
        licensee_mode=p["licensee_mode"],
        licensees=frozenset(p["licensees"]),
        territory_mode=p["territory_mode"],
        territories=frozenset(p["territories"]),
        window_start=_time(p.get("window_start")),
        window_end=_time(p.get("window_end")),
        commercial=p["commercial"],
        obligations=Obligations(
            attribution=o.get("attribution", ""),
            compensation_ref=o.get("compensation_ref", ""),
            ai_disclosure=bool(o.get("ai_disclosure", False)),
            max_similarity=o.get("max_similarity"),
        ),
        note=p.get("note", ""),
    )


def _entries(start: int) -> Iterator[tuple[int, canonical.Entry, str | None]]:
    """Each entry from ``start`` in order, its committed fields replaced by their verified
    clear values, and None; or, if they cannot be opened, the entry as it is and why."""
    rows = (
        Entry.objects.filter(index__gte=start)
        .order_by("index")
        .values_list("index", "data", "leaf_hash")
    )
    chunk: list[tuple[int, canonical.Entry, bytes]] = []
    for index, data, leaf_hash in rows.iterator(chunk_size=CHUNK):
        chunk.append((int(index), canonical.decode_entry(bytes(data)), bytes(leaf_hash)))
        if len(chunk) == CHUNK:
            yield from _opened(chunk)
            chunk = []
    yield from _opened(chunk)


def _opened(
    chunk: list[tuple[int, canonical.Entry, bytes]],
) -> Iterator[tuple[int, canonical.Entry, str | None]]:
    sealed = [leaf for _, e, leaf in chunk if commitments.commitments_of(e.payload)]
    by_leaf = ledger_openings.openings_by_leaf(leaf_hashes=sealed)
    for index, entry, leaf in chunk:
        if not commitments.commitments_of(entry.payload):
            yield index, entry, None
            continue
        try:
            payload = commitments.unseal(entry.payload, by_leaf.get(leaf, ()))
        except commitments.CommitmentError as exc:
            yield index, entry, str(exc)
            continue
        yield index, canonical.Entry(entry.v, entry.kind, entry.time, payload), None


def replay(*, progress: Callable[[int], None] | None = None) -> tuple[int, list[Difference]]:
    """Replay every ``decision`` in the log; (decisions replayed, differences)."""
    state = ReplayState()
    replayed = 0
    differences: list[Difference] = []
    for index, entry, unopened in _entries(0):
        p = entry.payload
        if unopened is not None:
            differences.append(
                Difference(index, p.get("decision", "-"), entry.kind, "-", unopened, "opening")
            )
            if entry.kind != "decision":
                continue
        if entry.kind != "decision":
            state.apply(entry.kind, p)
            continue
        if p["outcome"] == "error":
            continue
        replayed += 1
        if progress is not None and replayed % 1000 == 0:
            progress(replayed)
        matrix = state.matrices.get(int(p["matrix_version"] or 0))
        if matrix is None:
            differences.append(
                Difference(
                    index,
                    p["decision"],
                    p["outcome"],
                    "-",
                    f"matrix version {p['matrix_version']} not in the log",
                )
            )
            continue
        question = evaluation.Question(
            use=p["use"],
            licensee_id=p["licensee"],
            territories=tuple(p["territories"]),
            at=canonical.parse_time(p["at"]),
            commercial=bool(p["commercial"]),
            until=_until(p.get("period")),
        )
        facts = evaluation.Facts(
            matrix_version=int(p["matrix_version"]),
            matrix=matrix,
            holders=dict(state.parties),
            rules=tuple(state.rules.values()),
        )
        try:
            result = evaluation.evaluate_item(
                question, [state.work_facts(w) for w in p["works"]], facts
            )
        except ValueError as exc:  # the log lacks a fact the decision used (e.g. a party)
            differences.append(Difference(index, p["decision"], p["outcome"], "-", str(exc)))
            continue
        if result.outcome != p["outcome"]:
            differences.append(
                Difference(index, p["decision"], p["outcome"], result.outcome, result.reason)
            )
            continue
        ledgered = [(r["rule"], int(r["version"])) for r in p.get("rule_versions", [])]
        cited = evaluation.rule_versions_cited(result.trace)
        if "rule_versions" in p and cited != ledgered:
            # The same outcome from other versions: the decision read state its position in
            # the log does not hold (governance.ordering).
            reason = (
                f"cites rule versions {_versions(ledgered)}; at its position in the log"
                f" {_versions(cited)} apply"
            )
            differences.append(
                Difference(index, p["decision"], p["outcome"], result.outcome, reason)
            )
    return replayed, differences
