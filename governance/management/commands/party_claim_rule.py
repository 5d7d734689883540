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

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance.exceptions import GovernanceError
from governance.services.party_claims import party_claim_rule


class Command(BaseCommand):
    help = "Rule on a pending party claim as the operator: accept (move the shares) or reject."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("claim", help="The party claim's id.")
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
            claim = party_claim_rule(
                claim_id=options["claim"], accept=options["ruling"] == "accept",
                reason=options["reason"], operator=operator, now=timezone.now(),
            )  # fmt: skip
        except GovernanceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"party claim {claim.pk}: {claim.status}")
