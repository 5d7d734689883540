"""Replaying a real log's decisions end to end (issue 13 item 8): ``python -m ledger.verify
--replay`` over HTTP, the way an auditor runs it, and ``manage.py replay_decisions`` from the
database, on a database built through the service's own functions (nothing hand-written into
the ledger).

The database (``consentry_bench_replay``) is built once and kept between runs, like
``ledger_proofs``'s: a label imports a catalog CSV (``BENCH_REPLAY_RECORDINGS`` recordings,
default 20,000, each embodying its own composition: publishing shares held by three publishers,
a fifth of them split between two; master share held by the label; performer and likeness
shares held by the credited artist, one of 200 artist parties); the label, the publishers and
the artists set 150 consent rules (uses, territories, listed licensees, obligations); then a
licensee's manifests of ``BENCH_REPLAY_DECISIONS`` ISRC items in all (default 24,000, a third
each for ``analyze`` worldwide, ``train`` in FR DE US, ``voice``) are decided in-process by the
function a Celery worker runs per chunk (``decide_chunk_or_fail``), every decision ledgered,
and a checkpoint is signed over the whole log.

Gunicorn serves it as ``make run`` does (``config/gunicorn.py``, 2 processes). Four runs:
``python -m ledger.verify --quiet --replay`` with an auditor's token (``LEDGER_VERIFY_TOKEN``),
the same without ``--replay`` (what verifying the log alone costs, so the replay's share can
be told apart; neither with ``BENCH_REPLAY_HTTP=0``), and ``manage.py replay_decisions`` in one
process (``--workers 1``) and in two (``--workers 2``; neither with ``BENCH_REPLAY_DB=0``).
For each: the wall clock, and the CPU seconds of every process involved, summed: the client
(its children's rusage), gunicorn's processes and PostgreSQL's (``/proc``, the postmaster's
tree, its exited backends included through the postmaster's children's times); decisions per
second by each. Every run must
replay every decision with no difference.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_REPLAY_DATABASE", "consentry_bench_replay")
RECORDINGS = int(os.environ.get("BENCH_REPLAY_RECORDINGS", "20000"))
DECISIONS = int(os.environ.get("BENCH_REPLAY_DECISIONS", "24000"))
WEB_WORKERS = 2
HTTP = os.environ.get("BENCH_REPLAY_HTTP", "1") != "0"
"""``BENCH_REPLAY_HTTP=0``: ``manage.py replay_decisions`` alone, not ``ledger.verify``."""
FROM_DATABASE = os.environ.get("BENCH_REPLAY_DB", "1") != "0"
"""``BENCH_REPLAY_DB=0``: ``ledger.verify`` alone, not ``manage.py replay_decisions``."""

BUILD = r"""
import csv, io, json, random, sys, time, django
django.setup()
from django.utils import timezone
from governance import identifiers, services
from governance.access import Actor
from governance.importing.run import import_catalog
from governance.models import Decision, Party
from governance.services import consent
from governance.services.deciding import decide_chunk_or_fail
from governance.services.requests import CHUNK, use_request_submit
from ledger import selectors
from ledger import services as ledger_services

recordings, decisions = int(sys.argv[1]), int(sys.argv[2])
log = lambda text: print(text, file=sys.stderr, flush=True)
t0 = time.perf_counter()

def party(name, kind):
    found = services.party_create(name=name, kind=kind)
    user = services.user_create(username=name.lower().replace(" ", "-"))
    services.membership_add(party=found, user=user, role="admin")
    return Actor(user=user, party=found, role="admin"), user

def isrc(n):
    return f"GBRPL{26 + n // 100_000:02d}{n % 100_000:05d}"

def iswc(n):
    body = f"{100_000_000 + n:09d}"
    return f"T{body}{identifiers.iswc_check_digit(body)}"

if Decision.objects.count() < decisions // 3 * 3:  # three manifests of a third each
    rng = random.Random(13)
    label, _ = party("Replay Records", "label")
    publishers = [party(f"Replay Publishing {k}", "publisher")[0] for k in range(3)]
    artists = [party(f"Replay Artist {k}", "artist")[0] for k in range(200)]
    licensees = [party(f"Replay AI {k}", "licensee") for k in range(2)]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "isrc", "iswc", "title", "composition_iswc", "duration", "language",
                "main_artists", "songwriters", "right", "share", "holder", "territories"])
    for n in range(recordings):
        artist = artists[n % len(artists)].party.name
        title = f"Song {n}"
        if n % 5 == 0:
            pubs = [(publishers[n % 3], "50"), (publishers[(n + 1) % 3], "50")]
        else:
            pubs = [(publishers[n % 3], "100")]
        for actor, share in pubs:
            w.writerow(["composition", "", iswc(n), title, "", "", "en", "", artist,
                        "publishing", share, actor.party.name, "WW"])
        for right, holder, territories in (("master", "", "WW"), ("performer", artist, "WW"),
                                            ("likeness", artist, "WW")):
            w.writerow(["recording", isrc(n), "", title, iswc(n), 180 + n % 120, "en",
                        artist, "", right, "100", holder, territories])
    report = import_catalog(party=label.party, data=out.getvalue().encode(), fmt="csv",
                            now=timezone.now())
    assert not report.problems, report.problems[:3]
    log(f"  imported {recordings:,} recordings ({time.perf_counter() - t0:.0f} s)")
    sonora = str(licensees[0][0].party.pk)
    rules = [
        (label, {"scope": "all_works", "uses": ["analyze"], "effect": "conditional",
                 "obligations": {"attribution": "Replay Records"}}),
        (label, {"scope": "all_works", "uses": ["train"], "effect": "allow",
                 "licensee_mode": "listed", "licensees": [sonora]}),
        (label, {"scope": "all_works", "uses": ["voice"], "effect": "deny"}),
        (publishers[0], {"scope": "all_works", "uses": ["train"], "effect": "deny",
                         "territories": "FR DE"}),
        (publishers[1], {"scope": "all_works", "uses": ["train", "analyze"], "effect": "allow"}),
        (publishers[2], {"scope": "all_works", "uses": ["train"], "effect": "conditional",
                         "obligations": {"compensation_ref": "RP-2026"}}),
    ]
    for k, actor in enumerate(artists[:144]):
        if k % 3 == 0:
            rules.append((actor, {"scope": "likeness", "uses": ["voice"], "effect": "deny",
                                  "note": "No voice clones."}))
        elif k % 3 == 1:
            rules.append((actor, {"scope": "all_works", "uses": ["train"], "effect": "allow",
                                  "licensee_mode": "listed", "licensees": [sonora]}))
        else:
            rules.append((actor, {"scope": "all_works", "uses": ["train"], "effect": "deny",
                                  "territories": "US"}))
    for actor, data in rules:
        consent.rule_create(actor=actor, data=data, now=timezone.now())
    log(f"  {len(rules)} consent rules ({time.perf_counter() - t0:.0f} s)")
    licensee, user = licensees[0]
    for use, territories in (("analyze", ""), ("train", "FR DE US"), ("voice", "")):
        count = decisions // 3
        manifest = "isrc\n" + "\n".join(isrc(rng.randrange(recordings)) for _ in range(count))
        request, _ = use_request_submit(
            actor=licensee, fields={"use": use, "territories": territories},
            manifest=io.BytesIO(manifest.encode()), manifest_name="manifest.csv",
            idempotency_key=None, now=timezone.now(),
        )
        for start in range(0, count, CHUNK):
            decide_chunk_or_fail(request_id=str(request.pk), start=start,
                                 end=min(start + CHUNK, count), now=timezone.now())
        log(f"  decided {count:,} {use} items ({time.perf_counter() - t0:.0f} s)")
    ledger_services.sequence_and_sign(now=timezone.now())
    auditor, user = party("Replay Audit", "auditor")
    _, secret = services.token_create_for(party=auditor.party, user=user, name="replay",
                                          role="admin", expires_at=None)
    Path = __import__("pathlib").Path
    Path(sys.argv[3]).write_text(secret)
ledger_services.sequence_and_sign(now=timezone.now())
counts = {o: Decision.objects.filter(outcome=o).count()
          for o in Decision.objects.values_list("outcome", flat=True).distinct()}
print(json.dumps({"size": selectors.signed_size(), "decisions": Decision.objects.count(),
                  "outcomes": counts,
                  "vkey": ledger_services.current_signer().verifier().key_string}))
"""


def env() -> dict[str, str]:
    return {**os.environ, "CONSENTRY_DATABASE_NAME": DATABASE, "LOG_LEVEL": "WARNING"}


def postmaster_pid() -> int:
    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    return endpoint.pid


def build(token_file: Path) -> dict[str, object]:
    """Build the database unless a build finished (it wrote the auditor's token); what it
    holds."""
    import psycopg

    from config import embedded

    endpoint = embedded.running_endpoint()
    assert endpoint is not None, "make bench starts the embedded PostgreSQL"
    if not token_file.exists():  # never built, or a build that stopped half-way
        with psycopg.connect(endpoint.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    embedded.create_database(endpoint, DATABASE)
    for command in (["ledger_keygen"], ["migrate", "-v", "0"]):  # a fresh clone has no key yet
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env(), check=True)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", BUILD, str(RECORDINGS), str(DECISIONS), str(token_file)],
        cwd=BASE_DIR, env=env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"building {DATABASE} failed (exit status {out.returncode})")
    built: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    ready = time.perf_counter() - t0
    print(f"database {DATABASE}: {built['size']:,} entries, {built['decisions']:,} decisions "
          f"{built['outcomes']} (ready in {ready:.0f} s)", flush=True)  # fmt: skip
    return built


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants, plus the children they have reaped
    (``/proc/PID/stat``: utime, stime, cutime, cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU seconds)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                cpu = sum(int(f) for f in fields[11:15]) / tick
                stats[int(entry.name)] = (int(fields[1]), cpu)
    tree, total = {pid}, 0.0
    for _ in range(8):  # processes under processes: gunicorn's workers, PostgreSQL's backends
        tree |= {p for p, (parent, _) in stats.items() if parent in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def serve() -> Iterator[tuple[str, int]]:
    from benchmarks.ledger_proofs import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config",
         "config/gunicorn.py", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=BASE_DIR, env={**env(), "WEB_CONCURRENCY": str(WEB_WORKERS)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def timed(name: str, command: list[str], *, extra_env: dict[str, str], pids: dict[str, int],
          decisions: int, entries: int) -> str:  # fmt: skip
    """Run ``command``; print its wall clock and the CPU seconds of it and of ``pids``' trees."""
    before = {k: tree_cpu(p) for k, p in pids.items()}
    client = children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(
        command, cwd=BASE_DIR, env={**env(), **extra_env}, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    cpu = {"client": children_cpu() - client}
    cpu.update({k: tree_cpu(p) - before[k] for k, p in pids.items()})
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    if done.returncode != 0:
        raise SystemExit(f"{name}: exit status {done.returncode}: {last}")
    total = sum(cpu.values())
    parts = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
    print(f"{name}: {wall:.1f} s wall ({decisions / wall:,.0f} decisions/s), "
          f"{total:.1f} s CPU ({parts}; {decisions / total:,.0f} decisions and "
          f"{entries / total:,.0f} entries per CPU second); {last}", flush=True)  # fmt: skip
    return last


def main() -> None:
    print(f"## replaying a real log's decisions end to end ({DECISIONS:,} decisions)", flush=True)
    token_file = BASE_DIR / "var" / f"{DATABASE}.token"
    built = build(token_file)
    counts = {"decisions": int(str(built["decisions"])), "entries": int(str(built["size"]))}
    expected = f"{counts['decisions']:,} decisions replayed, 0 differ"
    postgres = postmaster_pid()
    if HTTP:
        over_http(built, token_file, expected, counts, postgres)
    if not FROM_DATABASE:
        return
    # One process, then two (the default on a log this long: a second process decodes the
    # entries and checks their openings), alternately; the second's CPU is in the client's,
    # since the command waits for it.
    for name, options in (
        ("manage.py replay_decisions --workers 1", ["--workers", "1"]),
        ("manage.py replay_decisions (--workers 2)", ["--workers", "2"]),
    ):
        command = [sys.executable, "manage.py", "replay_decisions", *options]
        last = timed(name, command, extra_env={}, pids={"postgres": postgres}, **counts)
        if last != expected:
            raise SystemExit(f"{name}: {last!r}, expected {expected!r}")


def over_http(
    built: dict[str, object],
    token_file: Path,
    expected: str,
    counts: dict[str, int],
    postgres: int,
) -> None:
    """``python -m ledger.verify`` with and without ``--replay`` against gunicorn."""
    with serve() as (base, server):
        verify = [sys.executable, "-m", "ledger.verify", "--url", base, "--quiet"]
        verify += ["--vkey", str(built["vkey"])]
        auditor = {"LEDGER_VERIFY_TOKEN": token_file.read_text().strip()}
        pids = {"gunicorn": server, "postgres": postgres}
        # Warm-up: gunicorn's workers load the application on their first request.
        subprocess.run(
            [*verify, "--samples", "0"], cwd=BASE_DIR, env=env(), check=True, capture_output=True
        )
        name = "python -m ledger.verify --replay"
        last = timed(name, [*verify, "--replay"], extra_env=auditor, pids=pids, **counts)
        if last != expected:
            raise SystemExit(f"{name}: {last!r}, expected {expected!r}")
        name = "python -m ledger.verify (the log alone, no --replay)"
        timed(name, verify, extra_env=auditor, pids=pids, **counts)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
