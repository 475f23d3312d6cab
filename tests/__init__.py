"""The test suite; a package so that `tests.support` is one importable name for tests and
benchmarks alike (pytest puts the checkout on sys.path, the benchmarks do the same)."""
