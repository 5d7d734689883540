"""``manage.py dispute_rule DISPUTE uphold|release --reason TEXT [--operator USERNAME]``: the
operator's ruling on a dispute the holders left past its deadline (or that no holder decided),
or on an appeal of an upheld dispute (docs/lifecycle-disputes.md).

The operator is no party: the ruling is ledgered as ``dispute_answered`` (or ``appeal_decided``)
with ``"by": "operator"``; a release supersedes the decision's outcome. Staff users do the
same through ``POST /api/v1/disputes/<id>/rule/``. Exit status 1 if the dispute is unknown or
waits for no ruling.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance.exceptions import GovernanceError
from governance.services.disputes import operator_ruling


class Command(BaseCommand):
    help = "Rule on an escalated dispute, or decide an appeal, as the operator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dispute", help="The dispute's id.")
        parser.add_argument("ruling", choices=["uphold", "release"])
        parser.add_argument("--reason", required=True, help="Why (the licensee reads it).")
        parser.add_argument("--operator", help="The operator's username, recorded as the ruler.")

    def handle(self, *args: Any, **options: Any) -> None:
        operator = None
        if options["operator"]:
            operator = get_user_model().objects.filter(username=options["operator"]).first()
            if operator is None:
                raise CommandError(f"no user {options['operator']!r}")
        try:
            dispute = operator_ruling(
                dispute_id=options["dispute"], uphold=options["ruling"] == "uphold",
                reason=options["reason"], operator=operator, now=timezone.now(),
            )  # fmt: skip
        except GovernanceError as exc:
            raise CommandError(exc.message) from None
        appeal = f", appeal {dispute.appeal_result}" if dispute.appeal_result else ""
        outcome = dispute.outcome or dispute.disputed_outcome
        self.stdout.write(f"dispute {dispute.pk}: {dispute.status}{appeal}, outcome {outcome}")
