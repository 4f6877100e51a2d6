"""``generalize`` kind ``time_bucket``: event times floored to the start of their bucket.

Buckets count from the Unix epoch in UTC (a ``15m`` bucket starts at :00, :15,
:30, :45). Takes timestamps with a zone or ISO-8601 strings; gives
``timestamp[us, UTC]``.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

from transforms.operators.base import Operator, OperatorConfig
from transforms.operators.durations import Seconds
from transforms.operators.timestamps import UTC_MICROS, floor_to


class TimeBucketConfig(OperatorConfig):
    kind: Literal["time_bucket"] = "time_bucket"
    size: Seconds


class GeneralizeTimeBucket(Operator[TimeBucketConfig]):
    name = "generalize"
    config_type = TimeBucketConfig

    def operate(self, values: pa.Array) -> pa.Array:
        return floor_to(values, self.config.size)

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        return UTC_MICROS
