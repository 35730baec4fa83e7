"""Test-wide settings: parsed form files are cached in the test run's own folder, not the
user's cache, so tests never see (or leave) anything outside their tmp folders; and the whole
run sees one pinned "today" (`PINNED_TODAY`)."""
import os

import pytest

#: The day every test runs on: `core.dates.today()` returns it for the engine, the reports, form
#: expressions, the UI and every CLI subprocess (they inherit the variable), so results do not
#: depend on the day the suite runs, and a run that crosses midnight cannot compare two days.
#: A run can be moved to another day to try a quarter's edge: `CAREBOOK_TODAY=2027-03-31 pytest`.
#: Tests that need "today" take it from `core.dates.today()` (or a module's TODAY), never from
#: `datetime.date.today()`. docs/testing.md.
PINNED_TODAY = "2026-12-06"


def pytest_configure(config):
    """Before collection (modules compute TODAY at import) and before xdist starts its workers,
    which inherit the environment."""
    from core.dates import TODAY_ENV

    os.environ.setdefault(TODAY_ENV, PINNED_TODAY)
    # The staff UI's minute and hour checks (a new day's recompute, the backup again) never
    # fire by themselves in a test: one slowed past a minute on a loaded machine would have
    # its screen recomputed half-way. tests/test_tui_new_day.py calls them itself.
    from tui.app import CarebookApp

    CarebookApp.NEW_DAY_CHECK_SECONDS = CarebookApp.BACKUP_CHECK_SECONDS = 10 ** 6
    if os.environ.get("CAREBOOK_TEST_FSYNC") != "1":
        os.fsync = _fsync_checked_not_waited


def _fsync_checked_not_waited(fd: int) -> None:
    """`os.fsync` in the test processes: the descriptor is checked (a closed or wrong one still
    raises, as the real call would), the wait for the disk is skipped. A flush to the platter
    only matters when the machine loses power, which no test does; the crash tests kill their
    writers with `os._exit`/SIGKILL, where the page cache survives, and those writers are
    subprocesses that keep the real fsync. About 3 ms a call here, ~2,000 calls for one
    300-person demo ledger. `CAREBOOK_TEST_FSYNC=1` runs the suite with the real call."""
    os.fstat(fd)

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


# The files whose tests run longest (`--durations` of a whole run: the two TUI walks, every crash
# point of a save and of a bulk save, town fields typed on the form, the form tests, the
# re-evaluation cases, the privacy CLI runs, a 5,000-person ledger), longest first. Collected
# first, they are dealt out to the `-n 2` workers at the start instead of one worker running
# them alone at the end while the other sits idle. Only the order changes; a file missing from
# the list runs as before.
SLOW_FIRST = ("test_tui_walk.py", "test_storage_crashpoints.py", "test_bulk_crashpoints.py",
              "test_tui_town_fields.py", "test_tui_form.py", "test_reevaluate_fields.py", "test_privacy.py",
              "test_tui_form_reuse.py", "test_storage_compaction.py", "test_summary_scale.py",
              "test_tui_errors.py", "test_tui_roster.py", "test_tui_followups.py", "test_tui_flows.py",
              "test_tui_visits.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: n for n, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))      # stable: same order within


def pytest_sessionfinish(session):
    """The crash tests' writer server (tests/forked.py) ends with the session and is waited for."""
    import sys

    forked = sys.modules.get("forked")
    if forked is not None:
        forked.stop()
