"""What would be decided now about one registered work, for each use: the consent in force on
its page (DESIGN.md, decision semantics).

The question is the sample one of :mod:`governance.preview` (a licensee no rule names, asking
now, worldwide, for a commercial use), asked about the work by its id; the facts are read and
evaluated as a check's are (``governance.services.facts.Context`` and
``governance.evaluation``): the work's shares (a recording's include the publishing shares of
the composition it embodies), its credited artists, every holder's rules in force and default
posture, and the consent matrix. Nothing is stored or ledgered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from governance import evaluation
from governance.models import RequestItem, Work
from governance.preview import SAMPLE_LICENSEE
from governance.services.facts import Context


def consent_in_force(*, work: Work, uses: Iterable[str]) -> dict[str, evaluation.ItemDecision]:
    """For each of ``uses``, the decision a check naming ``work`` would get now (unsaved)."""
    item = RequestItem(reference=f"work_id:{work.pk}")
    with transaction.atomic():  # the facts' shared locks (governance.ordering) end with it
        context = Context([item])
        resolved = context.resolved[0]
        works = context.work_facts(resolved)
        at: dt.datetime = context.now
        return {
            use: evaluation.evaluate_item(
                evaluation.Question(
                    use=use, licensee_id=SAMPLE_LICENSEE, territories=(), at=at, commercial=True
                ),
                works,
                context.facts,
                artists=resolved.artists,
            )
            for use in uses
        }
