"""The harness's own oracles: the hand-built wire encodings and the round-trip checker.

If these were wrong, the broker tests would pass or fail for the wrong reason.
"""

from __future__ import annotations

import io

from kafka.record.default_records import DefaultRecordBatch

from harness import verify_roundtrip, wire


def test_crc32c_matches_the_standard_check_value():
    assert wire.crc32c(b"123456789") == 0xE3069283


def test_record_batch_is_accepted_by_an_independent_decoder():
    raw = wire.record_batch([wire.Record(b"k1", b"v1"), wire.Record(None, b"v2", [("h", b"x")])])
    batch = DefaultRecordBatch(raw)
    assert batch.validate_crc()
    recs = list(batch)
    assert [(r.key, r.value, r.offset) for r in recs] == [(b"k1", b"v1", 0), (None, b"v2", 1)]
    assert list(recs[1].headers) == [("h", b"x")]


def test_corrupt_crc_batch_fails_the_independent_crc_check():
    raw = wire.record_batch([wire.Record(b"k", b"v")], corrupt_crc=True)
    assert not DefaultRecordBatch(raw).validate_crc()


def _rec(value, partition=0, offset=0, key="k"):
    return {"key": key, "value": value, "partition": partition, "offset": offset, "error": None}


def test_verify_roundtrip_accepts_an_exact_roundtrip():
    produced = [_rec("a", 0, 0), _rec("b", 0, 1)]
    assert verify_roundtrip(produced, list(produced), expected_count=2, partitions=2) == []


def test_verify_roundtrip_reports_duplicates_losses_moves_and_split_keys():
    produced = [_rec("a", 0, 0), _rec("b", 0, 1), _rec("c", 0, 2)]
    consumed = [_rec("a", 0, 0), _rec("a", 0, 0), _rec("b", 0, 5), _rec("x", 1, 0)]
    problems = "\n".join(verify_roundtrip(produced, consumed, expected_count=3))
    assert "read more than once" in problems
    assert "never read back" in problems
    assert "offset differs" in problems
    assert "never acknowledged" in problems
    assert "same key in several partitions" in problems


def test_verify_roundtrip_allows_unacknowledged_but_not_duplicates():
    produced = [_rec("a", 0, 0)]
    assert verify_roundtrip(produced, [_rec("a"), _rec("z", 0, 1)], allow_unacknowledged=True) == []
    assert verify_roundtrip(produced, [_rec("a"), _rec("a")], allow_unacknowledged=True)


def test_kafka_cluster_ids_never_start_with_a_dash():
    # StorageTool's parser reads "-t -abc..." as an option; one id in 64 would start so.
    from harness.kafka import random_cluster_id
    ids = [random_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
