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


def test_each_xdist_worker_hands_out_ports_from_its_own_block_below_the_ephemeral_range(monkeypatch):
    from harness import ports

    blocks = [range(ports.PORT_BLOCK_FIRST + i * ports.PORT_BLOCK_PORTS,
                    ports.PORT_BLOCK_FIRST + (i + 1) * ports.PORT_BLOCK_PORTS) for i in range(ports.PORT_BLOCKS_MAX)]
    assert blocks[-1].stop <= 32768
    assert [ports.worker_block_index(w) for w in (None, "", "gw0", "gw1", "gw5", "gw6", "master")] == [0, 0, 0, 1, 5, 0, 0]
    for worker, block in (("gw0", blocks[0]), ("gw3", blocks[3])):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        handed = [ports.free_port() for _ in range(50)]
        assert all(p in block for p in handed), (worker, handed)
        assert len(set(handed)) == len(handed), handed


def test_a_port_still_bound_is_never_handed_out(monkeypatch):
    import socket

    from harness import ports

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw5")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind((ports.LOOPBACK, ports.free_port()))
        # A whole walk of the block comes back round to the held port.
        handed = {ports.free_port() for _ in range(ports.PORT_BLOCK_PORTS)}
        assert held.getsockname()[1] not in handed
