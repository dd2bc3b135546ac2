"""Build pingcastle-reports.zip: two PingCastle reports of fictitious domains, made
from pingcastle-healthcheck.xml. Run from the repository root:

    .venv/bin/python examples/audits/make_pingcastle_zip.py

The archive is reproducible (fixed member dates), so rebuilding it changes nothing.
"""

import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "pingcastle-healthcheck.xml"
TARGET = HERE / "pingcastle-reports.zip"

# (member name, replacements in the source report)
REPORTS = [
    (
        "ad_hc_ch-exemple.local.xml",
        {
            # The same domain audited again once the krbtgt password was renewed.
            "2025-03-14T10:22:31.4523810+01:00": "2025-06-02T09:05:12.1180440+02:00",
            "<GlobalScore>55</GlobalScore>": "<GlobalScore>35</GlobalScore>",
            "<PrivilegiedGroupScore>55</PrivilegiedGroupScore>": (
                "<PrivilegiedGroupScore>35</PrivilegiedGroupScore>"
            ),
            "<AnomalyScore>40</AnomalyScore>": "<AnomalyScore>15</AnomalyScore>",
            "<Points>50</Points>\n      <Category>Anomalies</Category>": (
                "<Points>0</Points>\n      <Category>Anomalies</Category>"
            ),
        },
    ),
    (
        "ad_hc_recherche.ch-exemple.local.xml",
        {
            "2025-03-14T10:22:31.4523810+01:00": "2025-03-17T15:40:08.9031120+01:00",
            "<DomainFQDN>ch-exemple.local</DomainFQDN>": (
                "<DomainFQDN>recherche.ch-exemple.local</DomainFQDN>"
            ),
            "<NetBIOSName>CHEXEMPLE</NetBIOSName>": "<NetBIOSName>RECHERCHE</NetBIOSName>",
            "<GlobalScore>55</GlobalScore>": "<GlobalScore>70</GlobalScore>",
            "<StaleObjectsScore>31</StaleObjectsScore>": (
                "<StaleObjectsScore>70</StaleObjectsScore>"
            ),
        },
    ),
]


def main() -> None:
    template = SOURCE.read_text(encoding="utf-8")
    with zipfile.ZipFile(TARGET, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, replacements in REPORTS:
            report = template
            for old, new in replacements.items():
                assert old in report, old
                report = report.replace(old, new)
            info = zipfile.ZipInfo(name, date_time=(2025, 6, 2, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, report.encode("utf-8"))
    print(f"{TARGET.name}: {len(REPORTS)} rapports")


if __name__ == "__main__":
    main()
