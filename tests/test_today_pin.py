"""The test run's pinned "today" (conftest.py `PINNED_TODAY`, `core.dates.today()`).

The suite must not depend on the day it runs: every "today" of the engine, its form
expressions, the reports and a CLI run as a subprocess comes from `core.dates.today()`, which
returns the day `CAREBOOK_TODAY` names. Production sets nothing and gets the computer's date.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import dates
from core.engine import Engine
from core.problems import CarebookError

ROOT = Path(__file__).resolve().parent.parent


def test_the_run_is_pinned_to_one_day():
    """conftest.py pins PINNED_TODAY unless the run was started with another CAREBOOK_TODAY."""
    pinned = dt.date.fromisoformat(os.environ[dates.TODAY_ENV])
    assert dates.today() == pinned


def test_without_the_pin_today_is_the_computers_date(monkeypatch):
    monkeypatch.delenv(dates.TODAY_ENV)
    before = dt.date.today()
    got = dates.today()
    assert got in (before, dt.date.today())        # a run across midnight sees one of the two
    monkeypatch.setenv(dates.TODAY_ENV, "")
    assert dates.today() in (before, dt.date.today())


def test_the_engine_its_expressions_and_reports_use_the_pinned_day(tmp_path, monkeypatch):
    monkeypatch.setenv(dates.TODAY_ENV, "2027-02-10")
    with Engine.open(tmp_path / "data") as eng:
        assert eng.today() == dt.date(2027, 2, 10)
        assert eng.new_record("registration")["filing_date"] == "2027-02-10"     # initial value: today
        summary = eng.report("summary")
        assert (summary.date, summary.period) == ("2027-02-10", "2027Q1")
        assert eng.validator("registration").today() == dt.date(2027, 2, 10)
    monkeypatch.setenv(dates.TODAY_ENV, "2027-03-31")
    with Engine.open(tmp_path / "data") as eng:
        assert eng.new_record("registration")["filing_date"] == "2027-03-31"


def test_a_cli_subprocess_sees_the_pinned_day(tmp_path):
    env = {**os.environ, dates.TODAY_ENV: "2027-02-10"}
    res = subprocess.run([sys.executable, "-m", "core.cli", "--data", str(tmp_path / "data"),
                          "report", "summary", "--json"], cwd=ROOT, env=env, capture_output=True,
                         text=True, encoding="utf-8", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert (out["date"], out["period"]) == ("2027-02-10", "2027Q1")


def test_a_malformed_pin_is_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv(dates.TODAY_ENV, "12/06/2026")
    with pytest.raises(CarebookError, match="CAREBOOK_TODAY.*年-月-日.*12/06/2026"):
        dates.today()
    env = {**os.environ, dates.TODAY_ENV: "12/06/2026"}
    res = subprocess.run([sys.executable, "-m", "core.cli", "--data", str(tmp_path / "data"),
                          "report", "summary", "--json"], cwd=ROOT, env=env, capture_output=True,
                         text=True, encoding="utf-8", timeout=120)
    assert "环境变量 CAREBOOK_TODAY 应为日期" in res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
