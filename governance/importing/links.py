"""Link recordings to the compositions a works import registers (docs/catalog-works.md).

A recording is linked to composition ``X`` (``Work.composition``, so that a check on it asks
the composition's publishing holders: docs/rights.md) when

- its own feed declared ``X`` (ERN ``WorkId/ISWC``, kept as ``declared_iswc``) and it has no
  composition yet: whoever registers ``X`` links it, since the recording's registrant said so;
- or the works message names it (MWN ``ResourceMusicalWorkReference``, the works CSV's
  ``recording`` lines) and the importing party registered it.

A message that names another party's recording which does not declare ``X`` links nothing: that
would make the importer a holder of the recording's publishing (a say over another label's
recording) on its own word. It is reported as a problem naming the recording; a named ISRC that
is not registered is only counted (``recordings_not_registered``): it is linked when its
registrant delivers it declaring ``X``.

Runs in the chunk's transaction, after :meth:`Applier.apply`, which locked each ISWC and named
ISRC (``ordering.registering``): an ERN import of a recording declaring ``X`` takes ``X``'s lock
too, so the two are one after the other and neither undoes the other's link.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from governance import ledgering
from governance.importing.apply import Report
from governance.importing.records import ImportRecord
from governance.models import Credit, Party, Work


def link_recordings(
    *, party: Party, records: Sequence[ImportRecord], now: dt.datetime, report: Report
) -> None:
    """Link the recordings of the compositions among ``records`` (see the module)."""
    wanted = {r.iswc: r for r in records if r.kind == "composition" and r.iswc}
    if not wanted:
        return
    compositions = {
        w.iswc: w for w in Work.objects.filter(kind="composition", iswc__in=list(wanted))
    }
    named = {isrc: r.iswc for r in wanted.values() for isrc in r.recording_isrcs}
    recordings = list(
        Work.objects.select_for_update(of=("self",))
        .filter(Q(isrc__in=list(named)) | Q(declared_iswc__in=list(compositions)), kind="recording")
        .order_by("pk")
    )  # fmt: skip
    found = {w.isrc for w in recordings}
    report.counts["recordings_not_registered"] += len(set(named) - found)
    linked: list[Work] = []
    for work in recordings:
        iswc = named.get(work.isrc or "") or work.declared_iswc
        composition = compositions.get(iswc)
        if composition is None or work.composition_id == composition.pk:
            continue
        declared = work.declared_iswc == iswc and work.composition_id is None
        if not declared and (work.isrc not in named or work.registrant_id != party.pk):
            if work.isrc in named:
                report.reject(wanted[iswc].where, f"recording {work.isrc} is not linked: it is "
                              f"registered by another party and does not declare ISWC {iswc} "
                              "(its registrant links it)")  # fmt: skip
            continue
        work.composition_id = composition.pk
        work.version += 1
        work.updated_at = now
        linked.append(work)
    if not linked:
        return
    Work.objects.bulk_update(linked, ["composition", "version", "updated_at"])
    credits: dict[Any, list[Credit]] = defaultdict(list)
    for c in Credit.objects.filter(work__in=linked).order_by("work", "position"):
        credits[c.work_id].append(c)
    ledgering.append_many(
        [("work", ledgering.work_payload(w, credits[w.pk])) for w in linked], now=now
    )
    report.counts["recordings_linked"] += len(linked)
