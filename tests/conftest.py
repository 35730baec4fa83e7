"""Test-wide settings: parsed form files are cached in the test run's own folder, not the
user's cache, so tests never see (or leave) anything outside their tmp folders."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_form_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CAREBOOK_CACHE", str(tmp_path_factory.mktemp("form-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL for the test session (tests/pg_support.py); skipped without initdb."""
    import pg_support

    if pg_support.pg_bin() is None:
        pytest.skip("PostgreSQL 未安装（找不到 initdb；Debian: apt-get install postgresql）：跳过服务器测试")
    server = pg_support.start_server()
    yield server
    pg_support.remove_server(server)
