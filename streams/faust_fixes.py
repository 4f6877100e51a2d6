"""A fix for Faust's commit offset computation (faust-streaming 0.15.3).

``Consumer._new_offset`` decides how far a partition's offsets may be committed from
the offsets acknowledged so far. Faust's version can commit past a message that is
still being processed:

* before the partition's first commit (``committed is None``) and when the committed
  offset is 0, it does not check the head of the acknowledged list at all;
* otherwise it treats ``min(acked) - committed == 1`` as no gap, although the
  committed offset is the *next* offset to read, so that message is skipped.

This is the defect behind "agent concurrency > 1 can commit past an unprocessed
message", and it also defeats holding a message back on purpose (the window stage
holds the first event of every open window so that a restart replays it). The
replacement below commits the longest run of acknowledged offsets that starts at the
committed position, and never past a message Faust still tracks as unacknowledged.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from faust.transport.consumer import Consumer
from faust.utils.functional import consecutive_numbers

_PATCHED = "_citysieve_commit_fix"


def new_offset(consumer: Any, tp: Any) -> int | None:
    """The offset to commit for ``tp`` now, or None to commit nothing."""
    acked: list[int] = consumer._acked[tp]
    if not acked:
        return None
    _fold_gaps(consumer, tp, acked)
    acked.sort()
    committed = consumer._committed_offset[tp]
    if committed is not None and acked[0] > committed:
        return None  # the next offset to commit has not been acknowledged yet
    run = next(consecutive_numbers(acked))
    pending = [m.offset for m in list(consumer._unacked_messages) if m.tp == tp]
    lowest_pending = min(pending, default=None)
    if lowest_pending is not None:
        run = [offset for offset in run if offset < lowest_pending]
        if not run:
            return None
    acked[: len(run)] = []
    consumer._acked_index[tp].difference_update(run)
    return int(run[-1]) + 1


def _fold_gaps(consumer: Any, tp: Any, acked: list[int]) -> None:
    """Offsets with no message (compaction, transaction markers) count as acknowledged."""
    gaps = consumer._gap[tp]
    if not gaps:
        return
    top = max(acked)
    for interval in sorted(gaps.overlap(0, top), key=lambda i: i.begin):
        acked.extend(range(interval.begin, interval.end))
    gaps.chop(0, top + 1)


def apply() -> None:
    """Install the fix (idempotent)."""
    if not getattr(Consumer, _PATCHED, False):
        Consumer._new_offset = new_offset  # type: ignore[method-assign,assignment]
        setattr(Consumer, _PATCHED, True)


def kafka_producer(app: Any) -> AIOKafkaProducer:
    """The started aiokafka producer under a Faust app's producer.

    Faust 0.15.3 sends one message at a time; the pipeline hands whole batches to
    aiokafka instead. Faust keeps the client in ``_producer`` and starts it with the
    app; this fails loudly if a Faust upgrade moves it.
    """
    producer = getattr(app.producer, "_producer", None)
    if not isinstance(producer, AIOKafkaProducer):
        raise RuntimeError(
            "Faust's producer no longer exposes its aiokafka client as `_producer` "
            f"(found {type(producer).__name__}); see streams/faust_fixes.py"
        )
    return producer
