"""Benchmarks: our views against a bare baseline in the same run (`make bench`, see docs/performance.md)."""
