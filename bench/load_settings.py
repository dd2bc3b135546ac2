"""Settings of the load benchmark's gunicorn (bench/load.py): the drills' (production's,
`care_portal.settings.prod`, with static files collected without compression: see
drills/settings.py), plus the benchmark's own URLconf, which adds the baseline views to
the portal's, and a middleware that counts the queries of a request when asked to. The
product's URLconf and settings know nothing of either."""

from drills.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
MIDDLEWARE = ["bench.load_views.QueryCountMiddleware", *MIDDLEWARE]  # noqa: F405
