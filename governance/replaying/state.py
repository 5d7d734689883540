"""The state a replay rebuilds from the log (:class:`ReplayState`), indexed for decisions:
shares by work, rules by owner, and what the evaluator reads for a set of works remembered
until the next change of state. Pure: no Django, no database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from governance import evaluation
from governance.evaluation import FLOWS
from governance.terms import Obligations, RuleContent
from ledger import canonical

__all__ = ["ReplayState"]


_MATCH_KEYS = frozenset(("space", "score", "threshold"))


def _detail(match: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A match's detail as the trace recorded it (a fingerprint's model and offsets): the
    match replays as it was found, since the audio is not there to fingerprint again."""
    if len(match) == 3:
        return ()
    return tuple((k, v) for k, v in match.items() if k not in _MATCH_KEYS)


@dataclass
class ReplayState:
    """What the log says so far, indexed for decisions: shares by work, rules by owner."""

    parties: dict[str, evaluation.Holder] = field(default_factory=dict)
    artists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # work → artist parties
    titles: dict[str, str] = field(default_factory=dict)
    ai_declarations: dict[str, str] = field(default_factory=dict)  # work → its AI declaration
    compositions: dict[str, str] = field(default_factory=dict)  # recording → its composition
    shares: dict[str, dict[str, Any]] = field(default_factory=dict)  # share id → its payload
    rules: dict[str, RuleContent] = field(default_factory=dict)  # rule id → latest version
    matrices: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    shares_by_work: dict[str, dict[str, int]] = field(default_factory=dict)
    """work → its shares' ids, each with its position in :attr:`shares` (the order the shares
    were first ledgered in, which a decision's shares keep)."""
    rules_by_owner: dict[str, dict[str, RuleContent]] = field(default_factory=dict)
    _share_facts: dict[str, tuple[evaluation.Share, evaluation.Share]] = field(default_factory=dict)
    """share id → the share as the evaluator reads it for its own work, and for a recording
    that embodies its work (a composition): built once, when the share is ledgered."""
    _positions: dict[str, int] = field(default_factory=dict)
    _next_position: Iterator[int] = field(default_factory=itertools.count)
    _works: dict[str, evaluation.WorkFacts] = field(default_factory=dict)
    """work id → the work as :meth:`work_facts` reads it, without a decision's matches."""
    _named: dict[tuple[str, str | None, str | None], evaluation.WorkFacts] = field(
        default_factory=dict
    )
    """(work id, the identifier a decision named it by, its rights use) → :meth:`work_facts`
    for a decision without matches."""
    _readers: dict[tuple[str, ...], _Readers] = field(default_factory=dict)
    """works' ids → what :meth:`decision_facts` reads for them (parties, rules)."""

    def apply(self, kind: str, p: Mapping[str, Any]) -> None:
        """Take a state-changing entry. What was worked out for decisions from the state
        before it (:attr:`_works`, :attr:`_readers`) is forgotten, whatever the entry: the
        decisions between two changes of state ask again and again about the same works."""
        if self._works or self._readers or self._named:
            self._works.clear()
            self._named.clear()
            self._readers.clear()
        if kind == "party":
            self.parties[p["id"]] = evaluation.Holder(
                p["id"], p["name"], p["kind"], p.get("default_posture", "opt_in")
            )
        elif kind == "work":
            self.titles[p["id"]] = p["title"]
            if p.get("ai_declaration"):
                self.ai_declarations[p["id"]] = p["ai_declaration"]
            else:
                self.ai_declarations.pop(p["id"], None)
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
            self._share_added(p)
        elif kind == "rights_share_removed":
            self._share_removed(p["id"])
        elif kind == "consent_rule":
            self._rule_removed(p["rule"])
            content = _rule(p)
            self.rules[p["rule"]] = content
            self.rules_by_owner.setdefault(content.owner_id, {})[content.rule_id] = content
        elif kind == "consent_rule_withdrawn":
            self._rule_removed(p["rule"])
        elif kind == "consent_matrix":
            self.matrices[int(p["version"])] = {u: tuple(r) for u, r in p["matrix"].items()}

    def _share_added(self, p: Mapping[str, Any]) -> None:
        share_id = p["id"]
        earlier = self.shares.get(share_id)
        if earlier is None:
            position = self._positions[share_id] = next(self._next_position)
        else:  # a new version keeps its place, as a dict key keeps its place
            position = self._positions[share_id]
            self.shares_by_work.get(earlier["work"], {}).pop(share_id, None)
        self.shares[share_id] = dict(p)
        self.shares_by_work.setdefault(p["work"], {})[share_id] = position
        own = evaluation.Share(
            p["holder"],
            p["right"],
            Decimal(p["share"]),
            p["territory_mode"],
            frozenset(p["territories"]),
            _date(p["valid_from"]),
            _date(p["valid_until"]),
            composition=None,
        )
        self._share_facts[share_id] = (own, replace(own, composition=p["work"]))

    def _share_removed(self, share_id: str) -> None:
        earlier = self.shares.pop(share_id, None)
        if earlier is not None:
            self._positions.pop(share_id, None)
            self._share_facts.pop(share_id, None)
            self.shares_by_work.get(earlier["work"], {}).pop(share_id, None)

    def _rule_removed(self, rule_id: str) -> None:
        earlier = self.rules.pop(rule_id, None)
        if earlier is not None:
            self.rules_by_owner.get(earlier.owner_id, {}).pop(rule_id, None)

    def work_facts(self, w: Mapping[str, Any]) -> evaluation.WorkFacts:
        """The work as the decision saw it: its own shares and, for a recording, the shares of
        the rights it takes from its composition (``evaluation.FLOWS``), as the registry's
        facts (``governance.services.facts``) read them."""
        work_id = w["work"]
        matches, identified_by = w.get("matches"), w.get("identified_by")
        rights_use = w.get("rights_use")
        if not matches:
            # Named by an identifier (or by nothing): the same facts for every decision that
            # names the work so until the state changes.
            named = self._named.get((work_id, identified_by, rights_use))
            if named is not None:
                return named
        work = self._works.get(work_id)
        if work is None:
            work = self._works[work_id] = self._work(work_id)
        if not matches:
            if identified_by is not None or rights_use is not None:
                work = replace(work, identified_by=identified_by, rights_use=rights_use)
            self._named[(work_id, identified_by, rights_use)] = work
            return work
        return replace(
            work,
            matches=tuple(
                evaluation.Match(m["space"], float(m["score"]), float(m["threshold"]), _detail(m))
                for m in matches or ()
            ),
            identified_by=identified_by,
            rights_use=rights_use,
        )

    @staticmethod
    def artist_facts(a: Mapping[str, Any]) -> evaluation.ArtistFacts:
        """An artist the decision matched (by name, by voice), with its matches as ledgered:
        the prompt or audio is not there to match again."""
        return evaluation.ArtistFacts(
            a["artist"],
            tuple(
                evaluation.Match(m["space"], float(m["score"]), float(m["threshold"]), _detail(m))
                for m in a.get("matches") or ()
            ),
        )

    def _work(self, work_id: str) -> evaluation.WorkFacts:
        composition = self.compositions.get(work_id)
        facts = self._share_facts
        # (position, share as the work reads it): its own, then those it takes from its
        # composition, in the order the shares were first ledgered
        found = [
            (position, facts[i][0]) for i, position in self.shares_by_work.get(work_id, {}).items()
        ]
        if composition is not None and composition != work_id:
            for share_id, position in self.shares_by_work.get(composition, {}).items():
                flowing = facts[share_id][1]
                if flowing.right in FLOWS:
                    found.append((position, flowing))
        if len(found) > 1:
            found.sort(key=_position)
        shares = tuple(share for _, share in found)
        return evaluation.WorkFacts(
            work_id=work_id,
            title=self.titles.get(work_id, ""),
            shares=shares,
            artist_ids=self.artists.get(work_id, ()),
            composition_id=composition,
            ai_declaration=self.ai_declarations.get(work_id, ""),
        )

    def facts_for(
        self, works: Iterable[evaluation.WorkFacts], *, matrix_version: int, matrix: Any
    ) -> evaluation.Facts:
        """The facts the evaluator reads for ``works``: the parties that hold their shares or
        are credited on them, and those parties' rules (the evaluator reads no others)."""
        return self.decision_facts(works, matrix_version=matrix_version, matrix=matrix)[0]

    def decision_facts(
        self,
        works: Iterable[evaluation.WorkFacts],
        *,
        matrix_version: int,
        matrix: Any,
        artists: Iterable[evaluation.ArtistFacts] = (),
    ) -> tuple[evaluation.Facts, Mapping[str, list[RuleContent]]]:
        """:meth:`facts_for`, and its rules by owner, each owner's in (rule id, version) order
        (``evaluation.decide_item``'s ``by_owner``). ``artists``: the artists the decision
        matched, whose party and rules are read too."""
        works = tuple(works)
        matched = tuple(a.artist_id for a in artists)
        key = tuple(w.work_id for w in works)
        if matched:
            key = (*key, "artists", *matched)
        readers = self._readers.get(key)
        if readers is None:
            readers = self._readers[key] = self._readers_of(works, matched)
        holders, rules, by_owner = readers
        facts = evaluation.Facts(
            matrix_version=matrix_version, matrix=matrix, holders=holders, rules=rules
        )
        return facts, by_owner

    def _readers_of(
        self, works: tuple[evaluation.WorkFacts, ...], artists: tuple[str, ...] = ()
    ) -> _Readers:
        involved = {s.holder_id for w in works for s in w.shares}
        involved.update(a for w in works for a in w.artist_ids)
        involved.update(artists)
        parties, by_owner = self.parties, self.rules_by_owner
        rules: list[RuleContent] = []
        ordered: dict[str, list[RuleContent]] = {}
        for p in involved:
            owned = by_owner.get(p)
            if owned:
                rules.extend(owned.values())
                ordered[p] = sorted(owned.values(), key=_RULE_ORDER)
        holders = {p: parties[p] for p in involved if p in parties}
        return holders, tuple(rules), ordered


_Readers = tuple[
    dict[str, evaluation.Holder], tuple[RuleContent, ...], dict[str, list[RuleContent]]
]
_RULE_ORDER = operator.attrgetter("rule_id", "version")


def _position(item: tuple[int, evaluation.Share]) -> int:
    return item[0]


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else canonical.parse_time(value)


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
        ai_declarations=frozenset(p.get("ai_declarations") or ()),
    )
