"""Offset planning of sparkdl's Kafka source (pure functions, no broker)."""
from sparkdl.streaming.kafka_source import group_ranges, take


def test_take_shares_the_record_budget_fairly_and_never_passes_latest():
    end = take({0: 0, 1: 10, 2: 5}, {0: 100, 1: 12, 2: 5}, 30)
    assert end[1] == 12 and end[2] == 5  # partition 1 had only 2 records, partition 2 none
    assert end[0] == 28  # the rest of the budget went to partition 0
    assert take({0: 0, 1: 0}, {0: 7, 1: 9}, None) == {0: 7, 1: 9}


def test_group_ranges_balances_records_and_keeps_every_range_once():
    ranges = [("t", p, 0, n) for p, n in enumerate([500, 100, 100, 100, 100, 90, 10, 0])]
    groups = group_ranges(ranges, 2)
    assert len(groups) == 2
    assert sorted(r for group in groups for r in group) == sorted(ranges)
    loads = sorted(sum(stop - first for _, _, first, stop in group) for group in groups)
    assert loads == [500, 500]
    assert group_ranges(ranges[:1], 4) == [[ranges[0]]]
    assert len(group_ranges(ranges, 1_000_000)) == len(ranges)


def test_parse_offsets_reads_both_sources_shapes():
    from sparkdl.streaming.kafka_topics import parse_offsets

    expected = {("events", 0): 5, ("events", 1): 7}
    assert parse_offsets('{"0": 5, "1": 7}', "events") == expected  # sparkdl's one-topic source, before patterns
    assert parse_offsets('{"events": {"0": 5, "1": 7}}', "events") == expected  # Spark's connector, sparkdl's now
    assert parse_offsets(None) == {}
