"""Browser harness shared by the e2e tests and ``bench/bench_widget.py``."""
