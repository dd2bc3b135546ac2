"""Fault drills (`make drill`, `python -m drills`): the portal as production runs it
(gunicorn, Celery workers and beat, PostgreSQL, Redis, all on loopback and all
throwaway), put through the failures of its own infrastructure, then checked: every
submission acknowledged to a user exists, every submitted application gets its score
and its dossier, nothing is duplicated, no call's envelope is exceeded.

See README.md, "Fault drills"."""
