"""Licence tokens: an ``allow`` or ``conditional`` decision, as a credential its licensee can
show a third party, signed with the ledger's key (format and checks in
:mod:`ledger.licence_tokens`; docs/lifecycle-tokens.md).

A token is built from the decision's ledger entries, not from the rows beside them: what the
token says the decision granted is what the log says (the question, the outcome, the rule
versions that answered), with the works' identifiers and the licensee's name added, and the
index and leaf hash of the entries its receipt proves. Nothing is stored: the same decision,
key and catalogue give the same bytes (Ed25519 signatures are deterministic), so a token is
issued again, not kept.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from governance.exceptions import Conflict
from governance.models import Decision, Work
from governance.services import settlements
from ledger import canonical, receipts
from ledger import licence_tokens as tokens
from ledger import services as ledger_services


class NoLicence(Conflict):
    """The decision grants nothing a token could carry (denied, waiting for review, ...)."""

    code = "no_licence"


@dataclass(frozen=True)
class IssuedToken:
    """A token with what a licensee needs beside it: its claims, its receipt, the key that
    signed it and the C2PA assertion that carries it."""

    token: str
    claims: tokens.TokenClaims
    receipt: dict[str, Any]
    vkey: str

    def as_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "claims": dict(self.claims.document),
            "receipt": self.receipt,
            "vkey": self.vkey,
            "c2pa_assertion": tokens.c2pa_assertion(self.token, self.claims, vkey=self.vkey),
        }


def token_issue(*, decision: Decision) -> IssuedToken:
    """The licence token of ``decision`` (which the caller may read: its licensee, one of its
    holders, an auditor). Raises :class:`NoLicence` unless its final outcome is ``allow`` or
    ``conditional``."""
    outcome = decision.final_outcome
    if decision.outcome == "review" and not decision.settled_outcome:
        raise NoLicence(
            "This decision waits for its rights holders' review: no licence token until it is "
            "settled and allowed."
        )
    if outcome not in tokens.LICENSED_OUTCOMES:
        raise NoLicence(
            f"This decision's outcome is {outcome}: a licence token is issued only for allow "
            "or conditional decisions."
        )
    # The entry the decision reads as now: a dispute's resolution, else a review's settlement.
    settled = decision.resolved_leaf_hash or decision.settled_leaf_hash
    receipt = receipts.receipt_for_leaves(
        leaf_hash=bytes(decision.leaf_hash),
        superseding=None if settled is None else bytes(settled),
    )
    decided = receipt if settled is None else receipt["supersedes"]
    entry = canonical.decode_entry(base64.b64decode(decided["entry"]))
    final = canonical.decode_entry(base64.b64decode(receipt["entry"]))
    settlement = None
    if settled is not None:
        settlement = {"index": receipt["index"], "leaf_hash": receipt["leaf_hash"]}
    claims = _claims(decision, entry, final, decided=decided, settlement=settlement)
    signer = ledger_services.current_signer()
    text = tokens.sign_token(claims, signer)
    verifier = signer.verifier()
    return IssuedToken(
        token=text,
        claims=tokens.verify_token(text, verifier),
        receipt=receipt,
        vkey=verifier.key_string,
    )


def _claims(
    decision: Decision,
    entry: canonical.Entry,
    final: canonical.Entry,
    *,
    decided: dict[str, Any],
    settlement: dict[str, Any] | None,
) -> dict[str, Any]:
    p = entry.payload
    work_ids = [str(w["work"]) for w in p.get("works", [])]
    rows = {str(w.pk): w for w in Work.objects.filter(pk__in=work_ids)}
    works = [
        {
            "id": work_id,
            "kind": rows[work_id].kind,
            "title": rows[work_id].title,
            "isrc": rows[work_id].isrc or None,
            "iswc": rows[work_id].iswc or None,
        }
        for work_id in dict.fromkeys(work_ids)
        if work_id in rows
    ]
    return {
        "v": tokens.TOKEN_VERSION,
        "log": ledger_services.origin(),
        "decision": str(p["decision"]),
        "request": str(p["request"]),
        "item": int(p["item"]),
        "licensee": {"id": str(p["licensee"]), "name": decision.request.licensee.name},
        "use": p["use"],
        "commercial": p["commercial"],
        "outcome": final.payload["outcome"],
        # A dispute's resolution entry carries the outcome it released to, not a code.
        "code": final.payload.get("code", settlements.RESOLVED_CODE),
        "decided_at": canonical.format_time(final.time),
        "at": p["at"],
        "period": p["period"],
        "territories": sorted(p["territories"]),
        "works": works,
        "artists": [str(a["artist"]) for a in p.get("artists", [])],
        # Conditions bind only a conditional outcome: a dispute that released a conditional
        # decision to allow released its conditions with it.
        "obligations": p["obligations"] if final.payload["outcome"] == "conditional" else {},
        "rule_versions": p["rule_versions"],
        "matrix_version": p.get("matrix_version"),
        "entry": {"index": decided["index"], "leaf_hash": decided["leaf_hash"]},
        "settlement": settlement,
    }
