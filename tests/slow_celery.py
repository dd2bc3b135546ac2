"""The project's Celery app for a test worker whose PDF rendering takes a while, so
that a test can kill it in the middle (CARE_TEST_RENDER_DELAY seconds)."""

import os
import time

from celery.signals import worker_process_init

from care_portal.celery import app

__all__ = ["app"]


@worker_process_init.connect
def _slow_rendering(**_kwargs: object) -> None:
    from applications import pdf

    delay = float(os.environ.get("CARE_TEST_RENDER_DELAY", "0"))
    original = pdf.html_to_pdf

    def slow(*args: object, **kwargs: object) -> bytes:
        time.sleep(delay)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    pdf.html_to_pdf = slow  # type: ignore[assignment]
