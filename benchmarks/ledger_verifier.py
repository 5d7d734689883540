"""The offline verifier against the 1,000,000-entry benchmark log (built by ledger_proofs and
kept), served over HTTP on loopback.

Two figures, both by wall clock:

- the whole run of ``python -m ledger.verify`` (fetching every entry from gunicorn on this same
  2-core machine, recomputing the tree, checking the signature and sampled proofs);
- the recomputation alone: the same :func:`ledger.verify.verify_log`, in its default parallel
  mode, over the log's own answers fetched beforehand and held in memory, so the figure is the
  verifier's rate rather than the server's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks.ledger_proofs import BASE_DIR, build, env, serve


def main() -> None:
    print("## offline verifier (python -m ledger.verify) over HTTP", flush=True)
    size = build()
    with serve() as base:
        vkey = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n"
             "from ledger.services import current_signer\n"
             "print(current_signer().verifier().key_string)"],
            cwd=BASE_DIR, env=env(), check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        for extra in ([], ["--no-canonical-check"]):
            t0 = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "ledger.verify", "--url", base, "--vkey", vkey, "--quiet",
                 *extra],
                cwd=BASE_DIR, capture_output=True, text=True,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            if result.returncode != 0:
                raise RuntimeError(f"verifier failed: {result.stdout}{result.stderr}")
            label = " ".join(extra) or "default (canonical JSON check on)"
            recomputed = [line for line in result.stdout.splitlines() if "recomputed" in line]
            print(f"{label}: {recomputed[0].strip() if recomputed else result.stdout}", flush=True)
            print(f"  {size:,} entries verified in {wall:.1f} s wall ({size / wall:,.0f} entries/s "
                  "including HTTP)", flush=True)  # fmt: skip
        recompute_from_memory(base, vkey)


def recompute_from_memory(base: str, vkey: str) -> None:
    """verify_log over the log's answers held in memory: the recomputation's wall-clock rate."""
    from ledger import verify
    from ledger.note import parse_verifier_key_string

    class MemoryLogClient(verify.HttpLogClient):
        """Answers from memory what it fetched once (every URL it was asked for)."""

        def __init__(self, base_url: str) -> None:
            super().__init__(base_url)
            self.answers: dict[str, bytes] = {}

        def get(self, url: str, *, accept: str) -> bytes:
            if url not in self.answers:
                self.answers[url] = super().get(url, accept=accept)
            return self.answers[url]

    client = MemoryLogClient(base)
    key = parse_verifier_key_string(vkey)
    workers = verify.default_workers()
    warm = verify.verify_log(client, key, samples=0, workers=workers)  # fetches every page once
    for canonical in (True, False):
        t0 = time.perf_counter()
        result = verify.verify_log(
            client, key, samples=0, workers=workers, check_canonical=canonical
        )
        wall = time.perf_counter() - t0
        assert result.root_hash == warm.root_hash
        label = "canonical JSON check on" if canonical else "--no-canonical-check"
        rate = result.size / wall
        print(f"recomputed from memory ({label}, {workers} processes): {result.size:,} entries "
              f"in {wall:.2f} s wall = {rate:,.0f} entries/s", flush=True)  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
