"""The offline verifier against the 1,000,000-entry benchmark log (built by ledger_proofs and
kept), served over HTTP on loopback: wall time for the whole run (fetching every entry,
recomputing the tree, checking the signature and sampled proofs), and the verifier's own
figure for entries recomputed per second."""

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


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main()
