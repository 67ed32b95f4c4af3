"""A small bounded run of bench/worker_load.py (the full run's figures are in worker/README.md):
concurrent project pages and slow-read downloads while a cached file is re-served, on the Worker
and on the Snippet. Correctness only: every answer byte-exact, no error; no time is asserted."""

from __future__ import annotations

import pytest

from bench.worker_load import run_load


@pytest.mark.parametrize("target", ["worker", "snippet"])
def test_small_load_every_answer_exact(target):
    figures = run_load(pages=40, downloads=4, size_mb=4, rereads=5, target=target)
    assert figures["errors"] == []
    # the Worker re-serves the warmed file from its Cache API; the Snippet has none
    assert figures["cache_hits"] == (5 if target == "worker" else 0)
    assert figures["workerd_peak_rss_mib"] > 0
