"""Test-wide settings: parsed form files are cached in the test run's own folder, not the
user's cache, so tests never see (or leave) anything outside their tmp folders."""
import pytest

pytest_plugins = ["carebook.testing"]   # the fixtures plugin authors get (carebook_ledger, ...)


@pytest.fixture(autouse=True, scope="session")
def _private_form_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CAREBOOK_CACHE", str(tmp_path_factory.mktemp("form-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True, scope="session")
def _demo_cache(tmp_path_factory):
    """Demo ledgers built once per run and shared by its workers (tests/demo_cache.py)."""
    import demo_cache

    demo_cache.ROOT = demo_cache.shared_root(tmp_path_factory.getbasetemp())
    yield
    demo_cache.ROOT = None


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL for the test session (tests/pg_support.py); skipped without initdb."""
    import pg_support

    with pg_support.server_for_tests() as server:
        yield server
