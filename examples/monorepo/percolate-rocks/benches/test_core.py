"""Benchmarks of percolate-rocks' Python API, run against the installed wheel by the RC build
(`pytest benches --benchmark-only --benchmark-json FILE`, pytest-benchmark) and compared with the
last release's results by `python -m pipelines bench compare`."""

import percolate_rocks


def test_core_version(benchmark):
    assert benchmark(percolate_rocks.core_version)


def test_import_and_call(benchmark):
    def call_twice():
        return percolate_rocks.core_version() + percolate_rocks.core_version()

    assert benchmark(call_twice)
