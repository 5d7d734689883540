"""``manage.py claim_rule CLAIM accept|reject --reason TEXT [--operator USERNAME]``: an
operator's ruling on a pending rights claim, for when the work's registrant does not decide.

The operator is no party: accepting registers the claimed share exactly as the registrant's
acceptance would (the 100 % rule still holds), and the ruling is ledgered
(``rights_claim_decided`` with ``"decided_by": "operator"``). Exit status 1 if the claim is
unknown, decided already, or the share cannot be registered.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance.exceptions import GovernanceError
from governance.services.claims import claim_rule


class Command(BaseCommand):
    """An operator's ruling on a pending claim; ``party_claim_rule`` is the same command for a
    party claim (its own ``rule`` and ``report``)."""

    help = "Rule on a pending rights claim as the operator: accept (register the share) or reject."
    claim_help = "The claim's id."

    def rule(self, **ruling: Any) -> Any:
        return claim_rule(**ruling)

    def report(self, claim: Any) -> str:
        share = f", share {claim.granted_share_id}" if claim.granted_share_id else ""
        return f"claim {claim.pk}: {claim.status}{share}"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("claim", help=self.claim_help)
        parser.add_argument("ruling", choices=["accept", "reject"])
        parser.add_argument("--reason", required=True, help="Why (kept with the claim).")
        parser.add_argument(
            "--operator", help="The operator's username, recorded as the claim's decider."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        operator = None
        if options["operator"]:
            operator = get_user_model().objects.filter(username=options["operator"]).first()
            if operator is None:
                raise CommandError(f"no user {options['operator']!r}")
        try:
            claim = self.rule(
                claim_id=options["claim"], accept=options["ruling"] == "accept",
                reason=options["reason"], operator=operator, now=timezone.now(),
            )  # fmt: skip
        except GovernanceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.report(claim))
