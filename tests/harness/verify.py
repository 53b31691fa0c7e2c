"""The checks every produce-then-consume scenario shares.

Given what a producer saw acknowledged and what a consumer read back, list every way the
broker broke "each acknowledged record is readable exactly once, where it was acked".
Values are unique per record, so they identify records.
"""

from __future__ import annotations

from collections import Counter


def verify_roundtrip(produced: list[dict], consumed: list[dict], *, expected_count: int | None = None,
                     partitions: int | None = None, check_offsets: bool = True,
                     allow_unacknowledged: bool = False) -> list[str]:
    """Return a list of problems (empty when the round trip is correct).

    produced: [{"key", "value", "partition", "offset"}] as acknowledged (partition/offset
    may be None for clients that do not report them, e.g. kcat).
    consumed: [{"key", "value", "partition", "offset"}] as read back.
    allow_unacknowledged: records read back that no ack reported are fine (a crash may
    persist a batch whose ack never reached the producer); duplicates never are.
    """
    problems: list[str] = []
    if expected_count is not None and len(produced) != expected_count:
        problems.append(f"{len(produced)} records acknowledged, expected {expected_count}")
    errors = [p for p in produced if p.get("error")]
    if errors:
        problems.append(f"{len(errors)} produce errors, first: {errors[0]}")

    counts = Counter(c["value"] for c in consumed)
    dupes = {v: n for v, n in counts.items() if n > 1}
    if dupes:
        problems.append(f"{len(dupes)} values read more than once, e.g. {next(iter(dupes.items()))}")

    by_value = {c["value"]: c for c in consumed}
    acked = [p for p in produced if not p.get("error")]
    for p in acked:
        c = by_value.get(p["value"])
        if c is None:
            problems.append(f"acknowledged record never read back: {p}")
            continue
        if c["key"] != p["key"]:
            problems.append(f"key changed: produced {p}, read {c}")
        for field in ("partition", "offset") if check_offsets else ("partition",):
            if p.get(field) is not None and c[field] != p[field]:
                problems.append(f"{field} differs: acknowledged {p}, read {c}")

    acked_values = {p["value"] for p in acked}
    extra = [c for c in consumed if c["value"] not in acked_values]
    if extra and not allow_unacknowledged:
        problems.append(f"{len(extra)} records read that were never acknowledged, first: {extra[0]}")

    key_partitions: dict[object, set] = {}
    for c in consumed:
        key_partitions.setdefault(c["key"], set()).add(c["partition"])
    split = {k: sorted(v) for k, v in key_partitions.items() if len(v) > 1}
    if split:
        problems.append(f"same key in several partitions: {split}")

    if partitions is not None:
        bad = [c for c in consumed if not 0 <= c["partition"] < partitions]
        if bad:
            problems.append(f"records in partitions outside 0..{partitions - 1}: {bad[:3]}")

    seen_offsets = Counter((c["partition"], c["offset"]) for c in consumed)
    reused = [k for k, n in seen_offsets.items() if n > 1]
    if reused:
        problems.append(f"(partition, offset) read more than once: {reused[:5]}")
    return problems
