"""Pieces of the renderers: number formats, row order, bottleneck ranking."""

from __future__ import annotations

import pytest

from journeys.cli.analysis import journey_bottleneck, summary_bottlenecks
from journeys.cli.render import SUMMARY_ORDER, fmt_ms, fmt_share
from journeys.stages import INTERNAL_STAGES, LATENCY_KEYS


@pytest.mark.parametrize(
    ("value", "sign", "text"),
    [
        (0.412, True, "+0.412ms"),
        (0.0, True, "+0.000ms"),
        (9.9994, False, "9.999ms"),
        (52.04, True, "+52.0ms"),
        (127.4, True, "+127ms"),
        (1842.5, False, "1842ms"),  # round half to even
        (-300.0, True, "-300ms"),
        (-0.25, False, "-0.250ms"),
        (None, False, "—"),
    ],
)
def test_milliseconds_keep_three_decimals_below_ten_and_round_above(value, sign, text):
    assert fmt_ms(value, sign=sign) == text


def test_shares_round_to_whole_percent_and_show_tiny_ones():
    assert (fmt_share(0.5049), fmt_share(0.001), fmt_share(0.0), fmt_share(None)) == ("50%", "<1%", "0%", "—")


def test_summary_rows_list_every_latency_key_once():
    assert sorted(SUMMARY_ORDER) == sorted(LATENCY_KEYS)


def test_journey_bottleneck_ignores_platform_legs_and_negative_values():
    latencies = {"channelProcessing": 900.0, "eventPublish": -1.0, "dbWrite": 3.0, "natsDelivery": 1.0,
                 "platformSend": 500.0, "internalProcessing": 6.0}  # fmt: skip
    found = journey_bottleneck(latencies)
    assert found is not None
    assert (found.latency_key, found.value_ms, found.share, found.of) == ("dbWrite", 3.0, 0.5, "internal processing")
    assert journey_bottleneck({"channelProcessing": 5.0}) is None


def test_summary_bottlenecks_share_the_sum_of_the_internal_stages_statistic():
    stages = {key: {"avg": float(n + 1), "p95": 10.0 - n} for n, key in enumerate(INTERNAL_STAGES)}
    stages["platformSend"] = {"avg": 1000.0, "p95": 1000.0}
    by_avg = summary_bottlenecks(stages)
    assert [b.latency_key for b in by_avg] == list(reversed(INTERNAL_STAGES))[:3]
    assert by_avg[0].share == pytest.approx(7 / 28)
    assert summary_bottlenecks(stages, stat="p95", top=1)[0].latency_key == INTERNAL_STAGES[0]
