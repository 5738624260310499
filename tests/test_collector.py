"""The garbage collector while a crawl's engine runs (crawler/extensions/collector.py)."""

from __future__ import annotations

import gc

from crawler.extensions.collector import GEN0_THRESHOLD, CollectorTuning


def test_the_engine_runs_with_fewer_collections_and_gets_the_thresholds_back():
    before = gc.get_threshold()
    tuning = CollectorTuning()
    try:
        tuning.engine_started()
        assert gc.get_threshold() == (max(GEN0_THRESHOLD, before[0]), *before[1:])
        assert gc.get_freeze_count() > 0  # start-up's objects left out of the collections
        tuning.engine_started()  # a second signal changes nothing
        assert gc.get_threshold()[0] == max(GEN0_THRESHOLD, before[0])
    finally:
        tuning.engine_stopped()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    tuning.engine_stopped()  # and again: nothing to put back
    assert gc.get_threshold() == before


def test_nothing_is_changed_when_the_collector_is_off():
    before = gc.get_threshold()
    gc.disable()
    try:
        tuning = CollectorTuning()
        tuning.engine_started()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
        tuning.engine_stopped()
    finally:
        gc.enable()
    assert gc.get_threshold() == before
