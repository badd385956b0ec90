"""runflow benchmarks (not part of the test suite): `make bench`, or `python -m bench --help`.

Every figure is a ratio against a floor measured in the same run on the same Temporal dev server:
bare workflows (`bench/floor.py`) on their own worker process and task queue. See BENCHMARKS.md.
"""
