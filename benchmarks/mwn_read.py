"""Reading a DDEX MWN message (``governance.ddex.mwn.parse_mwn``, docs/catalog-works.md): a
generated message of ``BENCH_MWN_WORKS`` works (100,000), each with one writer and one
publishing share, read in a process of its own; its CPU seconds and peak memory, beside what
building the whole XML tree alone (lxml ``parse``) takes in another process. Reading only: the
import's writing is ``catalog_import``'s."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.ledger_append import BASE_DIR

WORKS = int(os.environ.get("BENCH_MWN_WORKS", "100000"))

READ = """
import resource, sys, time
from pathlib import Path
from governance.ddex.mwn import parse_mwn
t = time.process_time()
message = parse_mwn(Path(sys.argv[1]))
cpu = time.process_time() - t
print(len(message.works), len(message.problems), round(cpu, 2),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
TREE = """
import resource, sys, time
from lxml import etree
t = time.process_time()
etree.parse(sys.argv[1])
print(round(time.process_time() - t, 2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def message(works: int) -> str:
    """An MWN 1.3 message of ``works`` works (ISWCs T000000001x...), one writer (P1) and one
    worldwide 100 % MechanicalRight share (P2) each."""
    from governance import identifiers

    def ipi(body: str) -> str:
        return body + identifiers.ipi_check_digits(body)

    head = (
        '<?xml version="1.0"?>\n<mwn:MusicalWorkClaimNotificationMessage '
        'xmlns:mwn="http://ddex.net/xml/mc-notif/13" AvsVersionId="7" LanguageAndScriptCode="en">'
        f"\n<PartyList><Party><PartyId><IpiNameNumber>{ipi('000000025')}</IpiNameNumber></PartyId>"
        "<PartyReference>P1</PartyReference><PartyName><FullName>Writer One</FullName>"
        "</PartyName><IsOrganization>false</IsOrganization></Party>"
        f"<Party><PartyId><IpiNameNumber>{ipi('234567891')}</IpiNameNumber></PartyId>"
        "<PartyReference>P2</PartyReference><PartyName><FullName>Harbor Lane Music Publishing"
        "</FullName></PartyName><IsOrganization>true</IsOrganization></Party></PartyList>\n"
    )
    parts = [head, "<WorkList>\n"]
    for k in range(1, works + 1):
        body = f"{k:09d}"
        iswc = f"T{body}{identifiers.iswc_check_digit(body)}"
        parts.append(
            f"<MusicalWork><MusicalWorkReference>W{k}</MusicalWorkReference><MusicalWorkId>"
            f"<ISWC>{iswc}</ISWC></MusicalWorkId><Title><TitleText>Work number {k}</TitleText>"
            "</Title><Writer><WriterPartyReference>P1</WriterPartyReference><Role>Composer"
            "</Role></Writer></MusicalWork>\n"
        )
    parts.append("</WorkList>\n<RightShareList>\n")
    for k in range(1, works + 1):
        parts.append(
            f"<RightShare><RightShareReference>S{k}</RightShareReference><RightShareType>"
            "MusicalWorkCollectionShare</RightShareType><RightShareWorkReference>"
            f"W{k}</RightShareWorkReference><TerritoryCode>Worldwide</TerritoryCode><RightsType>"
            "MechanicalRight</RightsType><RightsController><RightsControllerPartyReference>P2"
            "</RightsControllerPartyReference></RightsController><RightSharePercentage>100"
            "</RightSharePercentage></RightShare>\n"
        )
    parts.append("</RightShareList>\n</mwn:MusicalWorkClaimNotificationMessage>\n")
    return "".join(parts)


def _run(code: str, path: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=BASE_DIR, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.split()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "works.xml"
        path.write_text(message(WORKS))
        size = path.stat().st_size / 2**20
        works, problems, cpu, rss = _run(READ, path)
        tree_cpu, tree_rss = _run(TREE, path)
    load = os.getloadavg()[0]
    print(f"mwn_read: {works} works ({size:.1f} MiB), {problems} problems: {cpu} s CPU, "
          f"peak RSS {rss} MiB; the whole tree alone: {tree_cpu} s CPU, peak RSS {tree_rss} MiB "
          f"(load {load:.1f})")  # fmt: skip
