"""``python -m benchmarks [NAME ...]``: run the benchmarks (all by default) and print figures."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from benchmarks import (
    broker,
    catalog_import,
    check_cpu,
    composition,
    content,
    content_fingerprint,
    content_import,
    content_scale,
    fault_recovery,
    fingerprint_votes,
    ledger_append,
    ledger_proofs,
    ledger_verifier,
    manifest_scale,
    mwn_read,
    replay,
    replay_service,
    requests_pipeline,
    text,
    vector_matching,
    voice,
)

BENCHMARKS = {
    "broker": broker.main,
    "ledger_append": ledger_append.main,
    "ledger_proofs": ledger_proofs.main,
    "ledger_verifier": ledger_verifier.main,
    "mwn_read": mwn_read.main,
    "replay": replay.main,
    "replay_service": replay_service.main,
    "content": content.main,
    "composition": composition.main,
    "text": text.main,
    "voice": voice.main,
    "catalog_import": catalog_import.main,
    "content_import": content_import.main,
    "requests_pipeline": requests_pipeline.main,
    "check_cpu": check_cpu.main,
    "manifest_scale": manifest_scale.main,
    "vector_matching": vector_matching.main,
    "fingerprint_votes": fingerprint_votes.main,
    "content_fingerprint": content_fingerprint.main,
    "content_scale": content_scale.main,
    "fault_recovery": fault_recovery.main,
}
# fault_recovery: minutes of faults on a service of its own; fingerprint_votes: a catalog of
# 40 million postings (4 GB); content_scale: 10,000 tracks' postings (tens of GB, an hour to
# load). Each runs when named.
ON_DEMAND = {"fault_recovery", "fingerprint_votes", "content_scale"}

wanted = sys.argv[1:] or [name for name in BENCHMARKS if name not in ON_DEMAND]
unknown = [name for name in wanted if name not in BENCHMARKS]
if unknown:
    sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
for name in wanted:
    BENCHMARKS[name]()
    print(flush=True)
