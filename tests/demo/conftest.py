"""The demo seeded once per test at the size most demo tests use."""

import pytest

from demo.directory import seed_demo

SIZE = 200


@pytest.fixture
def seeded(db):
    return seed_demo(seed=2025, legal_entities=SIZE)
