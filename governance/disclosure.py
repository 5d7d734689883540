"""What each reader may see of a decision's trace and of a work's consent: the one place that
decides it, used by every renderer (the decision and check answers, explanations, exports).

Pure: no Django. Shares and the rules behind a holder's answer are commercially confidential
(DESIGN.md, Ledger); who decided, and under which rule version, is not: a licensee needs it to
understand an answer and an auditor to replay it.

A decision trace (:mod:`governance.evaluation`), per work of the item:

=====================================  ==============================================
reader                                 sees of each holder of the work
=====================================  ==============================================
an auditor                             everything
a holder of that work                  everything (the other holders' shares too)
anyone else (the licensee; a holder    ``party``, ``name``, ``kind``, ``credited``, ``answer``,
of another work of the same item)      ``code``, ``rule`` (the deciding version),
                                       ``default``, ``similarity``, ``obligations``; not
                                       ``share``, nor ``rules`` (every matching version
                                       and its effect)
=====================================  ==============================================

So a licensee's check answer, abridged::

    {"works": [{"work": "<id>", "outcome": "deny", "rights": [{"right": "master", "holders": [
        {"party": "<id>", "name": "Northwind Records", "kind": "label", "credited": false,
         "answer": "deny", "code": "consent.denied_by_rule",
         "rule": {"id": "<rule id>", "version": 2}, "default": null, ...}]}]}]}

A work's consent export: an auditor sees every holder's rules; a holder (or the registrant) sees
its own rules in full and, for each other holder, only the outcome: the training-and-mining
answer of its rules (``allowed``, ``constrained``, ``notAllowed``) without the conditions, which
name licensees, territories and terms (:func:`outcome_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

CONFIDENTIAL_HOLDER_FIELDS: Final = frozenset({"share", "rules"})
"""A holder's fields in a trace that only auditors and the work's holders see."""

HIDDEN_CONDITIONS: Final = "Conditions set by another rights holder."
"""``constraint_info`` of another holder's ``constrained`` answer in an export."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads: a party (its id as text) and whether it is an auditor."""

    party_id: str
    auditor: bool = False

    def sees_everything(self) -> bool:
        return self.auditor

    def owns(self, party_id: object) -> bool:
        return bool(self.party_id) and str(party_id) == self.party_id


NOBODY: Final = Viewer(party_id="")
"""A reader who is no party: sees what a licensee sees. The default, so a renderer that is not
told who reads discloses the least."""


def trace_for(trace: Mapping[str, Any], *, viewer: Viewer) -> dict[str, Any]:
    """The part of an item's ``trace`` (or of one work's) that ``viewer`` may see; the trace
    itself is not changed. An auditor gets it whole; in each work whose holders do not include
    the viewer, the holders lose :data:`CONFIDENTIAL_HOLDER_FIELDS`."""
    if viewer.sees_everything():
        return dict(trace)
    if "rights" in trace:  # one work's trace
        return _work_for(trace, viewer)
    shown = dict(trace)
    if isinstance(trace.get("works"), list):
        shown["works"] = [_work_for(w, viewer) for w in trace["works"]]
    if isinstance(trace.get("artists"), list):  # an artist's likeness holds no share, but alike
        shown["artists"] = [_work_for(a, viewer) for a in trace["artists"]]
    return shown


def _work_for(work: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    rights = work.get("rights") or []
    if any(viewer.owns(h.get("party")) for r in rights for h in r.get("holders") or []):
        return dict(work)
    shown = dict(work)
    shown["rights"] = [
        {
            **r,
            "holders": [
                {k: v for k, v in h.items() if k not in CONFIDENTIAL_HOLDER_FIELDS}
                for h in r.get("holders") or []
            ],
        }
        for r in rights
    ]
    return shown


def outcome_only(assertion: Mapping[str, Any]) -> dict[str, Any]:
    """A training-and-mining assertion (``{"entries": {key: {"use": ..., ...}}}``) reduced to
    its outcome: each entry's ``use``, and for ``constrained`` :data:`HIDDEN_CONDITIONS` in place
    of the holder's own conditions."""
    entries: dict[str, dict[str, str]] = {}
    for key, entry in sorted(assertion.get("entries", {}).items()):
        kept = {"use": str(entry["use"])}
        if entry["use"] == "constrained":
            kept["constraint_info"] = HIDDEN_CONDITIONS
        entries[key] = kept
    return {"entries": entries}
