"""Machinery the tests, the demo and the benchmarks share: a real OCI registry on loopback and its helpers."""
