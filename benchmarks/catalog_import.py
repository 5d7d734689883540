"""Catalog import into a fresh database (the embedded PostgreSQL), ledger entries included:

- a CSV of 100,000 rows (``BENCH_CATALOG_ROWS``; 0 leaves it out), each a recording with its
  master share, so 100,000 works, 100,000 shares and 200,000 ledger entries, through
  ``manage.py import_catalog``; then the same file again (nothing changes);
- a DDEX ERN 4.3 file and an ERN 3.8.2 file of 1,000 recordings each;
- a DDEX ERN 4.3 file of 99,999 recordings (``BENCH_DDEX_RECORDINGS``; an ISRC designation
  has five digits), imported, then again unchanged, with the command's peak memory.

Wall time of the whole command (process start, Django set-up, reading, validating, writing and
ledgering), its CPU seconds (in all, and reading the file vs applying the records, as the
command's ``--json`` report gives them), PostgreSQL's CPU seconds meanwhile (the machine is
shared: CPU seconds survive the load), the 1-minute load average, and how many ledger entries
the import appended.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ledger_append import BASE_DIR, drop, scratch_env

ROWS = int(os.environ.get("BENCH_CATALOG_ROWS", "100000"))
DDEX_RECORDINGS = int(os.environ.get("BENCH_DDEX_RECORDINGS", "99999"))
LABEL = "Northwind Records"

SETUP = """
import django; django.setup()
from governance.services import party_create
party_create(name=%r, kind="label")
"""
PENDING = """
import django; django.setup()
from ledger.models import PendingEntry
print(PendingEntry.objects.count())
"""


def catalog_csv(rows: int) -> bytes:
    """``rows`` recordings with valid, unique ISRCs, credits and a worldwide master share."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "isrc", "title", "display_artist", "duration", "language",
                     "release_date", "main_artists", "producers", "right", "share",
                     "territories"])  # fmt: skip
    for n in range(rows):
        writer.writerow(["recording", f"GBNWR{25 + n // 100_000:02d}{n % 100_000:05d}",
                         f"Track {n}", f"Artist {n % 997}", 180 + n % 120, "en", "2025-01-01",
                         f"Artist {n % 997}", "Kim Ode", "master", "100", "WW"])  # fmt: skip
    return out.getvalue().encode()


LAST: dict[str, float] = {}
"""CPU seconds of the last command (``command``) and of PostgreSQL meanwhile (``postgres``)."""


def run_command(env: dict[str, str], path: Path) -> tuple[float, dict[str, object]]:
    from benchmarks.content_import import postgres_cpu  # It imports this module.

    children, server = os.times(), postgres_cpu()
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "import_catalog", str(path), "--party", LABEL, "--json"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = os.times()
    LAST["postgres"] = postgres_cpu() - server
    LAST["command"] = (after.children_user - children.children_user
                       + after.children_system - children.children_system)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"import failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return wall, json.loads(result.stdout.strip().splitlines()[-1])


def cpu(report: dict[str, object]) -> str:
    """The CPU seconds of the last command: in all, reading, applying; PostgreSQL's; the load."""
    split = report.get("cpu_seconds") or {}
    assert isinstance(split, dict)
    load = os.getloadavg()[0]
    read, apply = split.get("read", 0), split.get("apply", 0)
    return (f"CPU {LAST['command']:.1f} s (read {read:.1f}, apply {apply:.1f}), PostgreSQL "
            f"{LAST['postgres']:.1f} s; load {load:.1f}")  # fmt: skip


def peak_mib() -> float:
    """The largest peak resident memory of the commands run so far (Linux: KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def ddex_large(env: dict[str, str], tmp: Path) -> None:
    """A large ERN 4.3 delivery, then the same again; a fresh catalog (its own ISRCs)."""
    from tests.ddex_samples import ern_document

    path = tmp / "ern-4.3-large.xml"
    document = ern_document(recordings=DDEX_RECORDINGS, version="4.3", label=LABEL, seed=99)
    # One album of 99,999 tracks would be one `release` ledger entry over the 64 KiB entry
    # limit: the album goes without its ICPN here, so it is not registered as a release.
    document = document.replace(b"<ICPN>", b'<ProprietaryId Namespace="DPID:PADPIDA2024051501N">')
    path.write_bytes(document.replace(b"</ICPN>", b"</ProprietaryId>"))
    size = path.stat().st_size / 2**20
    start = pending(env)
    wall, report = run_command(env, path)
    counts = report["counts"]
    assert isinstance(counts, dict)
    print(f"DDEX ERN 4.3, {DDEX_RECORDINGS:,} recordings ({size:,.0f} MiB): {wall:.1f} s wall; "
          f"{cpu(report)}; works {counts.get('works_created', 0):,}, shares "
          f"{counts.get('shares_created', 0):,}, ledger entries {pending(env) - start:,}; peak "
          f"memory of any command so far {peak_mib():,.0f} MiB", flush=True)  # fmt: skip
    start = pending(env)
    wall, report = run_command(env, path)
    counts = report["counts"]
    assert isinstance(counts, dict)
    print(f"DDEX ERN 4.3 again (nothing changes): {wall:.1f} s wall; {cpu(report)}; works "
          f"unchanged {counts.get('works_unchanged', 0):,}, ledger entries "
          f"{pending(env) - start}", flush=True)  # fmt: skip


def csv_step(env: dict[str, str], tmp: Path) -> None:
    """The CSV of ``ROWS`` recordings, then the same file again."""
    csv_path = tmp / "catalog.csv"
    csv_path.write_bytes(catalog_csv(ROWS))
    before = pending(env)
    wall, report = run_command(env, csv_path)
    appended = pending(env) - before
    counts = report["counts"]
    assert isinstance(counts, dict)
    print(f"CSV {ROWS:,} rows: {wall:.1f} s wall ({ROWS / wall:,.0f} rows/s); "
          f"{cpu(report)}; works {counts.get('works_created', 0):,}, shares "
          f"{counts.get('shares_created', 0):,}, ledger entries {appended:,}",
          flush=True)  # fmt: skip
    wall, report = run_command(env, csv_path)
    print(f"CSV again (nothing changes): {wall:.1f} s wall; {cpu(report)}; ledger "
          f"entries {pending(env) - before - appended}", flush=True)  # fmt: skip


def pending(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", PENDING], cwd=BASE_DIR, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from tests.ddex_samples import ern_document

    print(f"## catalog import ({ROWS:,}-row CSV; DDEX ERN files of 1,000 recordings)", flush=True)
    env, name = scratch_env()
    try:
        subprocess.run([sys.executable, "-c", SETUP % LABEL], cwd=BASE_DIR, env=env, check=True)
        with tempfile.TemporaryDirectory() as tmp:
            if ROWS:  # BENCH_CATALOG_ROWS=0: the DDEX files alone
                csv_step(env, Path(tmp))
            # Fixed seeds: two different catalogs, the same bytes on every run.
            for seed, version in enumerate(("4.3", "3.8.2"), start=1):
                path = Path(tmp) / f"ern-{version}.xml"
                path.write_bytes(ern_document(recordings=1000, version=version, label=LABEL,
                                              seed=seed))  # fmt: skip
                start = pending(env)
                wall, report = run_command(env, path)
                counts = report["counts"]
                assert isinstance(counts, dict)
                print(f"DDEX ERN {version}, 1,000 recordings: {wall:.2f} s wall; "
                      f"{cpu(report)}; works "
                      f"{counts.get('works_created', 0):,} created "
                      f"{counts.get('works_unchanged', 0):,} unchanged, ledger entries "
                      f"{pending(env) - start:,}", flush=True)  # fmt: skip
            if DDEX_RECORDINGS:
                ddex_large(env, Path(tmp))
    finally:
        drop(name)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
