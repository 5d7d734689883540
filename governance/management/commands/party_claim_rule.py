"""``manage.py party_claim_rule CLAIM accept|reject --reason TEXT [--operator USERNAME]``: an
operator's ruling on a pending party claim, for when the party whose feed named the unclaimed
party does not decide.

The operator is no party: accepting moves the unclaimed party's shares to the claimant exactly
as that party's acceptance would, and the ruling is ledgered (``party_claim_decided`` with
``"decided_by": "operator"``). Exit status 1 if the claim is unknown or decided already, or the
party was claimed already.
"""

from __future__ import annotations

from typing import Any

from governance.management.commands import claim_rule
from governance.services.party_claims import party_claim_rule


class Command(claim_rule.Command):
    help = "Rule on a pending party claim as the operator: accept (move the shares) or reject."
    claim_help = "The party claim's id."

    def rule(self, **ruling: Any) -> Any:
        return party_claim_rule(**ruling)

    def report(self, claim: Any) -> str:
        return f"party claim {claim.pk}: {claim.status}"
