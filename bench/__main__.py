"""`make bench`: each benchmark measures the portal against a baseline in the same run
and reports the ratio (machines here are noisy; absolute times are only context).

Runs on a throwaway test database (PostgreSQL when DATABASE_URL is set).
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "care_portal.settings.test")


def main() -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench import benchmarks

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    # Its own throwaway database, so that a test run at the same time is not disturbed.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}".replace("/", "_")
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = None  # in memory
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    results = []
    try:
        only = set(sys.argv[1:])
        for bench in benchmarks.ALL:
            if only and bench.__name__ not in only:
                continue
            result = bench()
            results.append(result)
            raw = ", ".join(f"{k}={v}" for k, v in result["raw"].items())
            print(f"{result['name']}: ratio={result['ratio']:.2f} ({raw})", flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    out = Path(__file__).resolve().parent / "results.json"
    # A run of some benchmarks keeps the others' last figures.
    previous = json.loads(out.read_text()).get("results", []) if out.exists() else []
    ran = {r["name"] for r in results}
    payload = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "results": [r for r in previous if r["name"] not in ran] + results,
    }
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"written {out.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
