"""Settings of the drills' gunicorn, workers and beat: production's
(`care_portal.settings.prod`, with SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL…
from the environment the drills set), with one difference: static files are collected
with Django's manifest storage, without WhiteNoise's compression. Collecting with
compression (brotli and gzip of every DSFR file) takes one to two minutes on a 2-core
machine, and static files play no part in any drill; the URLs and the manifest are the
same as production's."""

from care_portal.settings.prod import *  # noqa: F403

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
}
