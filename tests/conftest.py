import pytest

from triage.rulebook import load_rulebook


@pytest.fixture(scope="session")
def rulebook():
    """The shipped rulebook (contract section 3's default policy)."""
    return load_rulebook()
