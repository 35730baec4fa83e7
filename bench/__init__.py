"""Benchmarks, run by hand (`python -m bench.<name>`), never by pytest.

Speed claims live here rather than in timed tests: a loaded CI machine would make timed tests
flaky, and a benchmark can print the numbers that matter (median, p95, sizes, memory) side by
side with the baseline it is meant to beat.
"""
