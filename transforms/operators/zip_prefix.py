"""``generalize`` kind ``zip_prefix``: ZIP codes become their first ``length`` digits (``112``).

Accepts ``11215``, ``11215-1234`` and integers (``2134`` is ``02134``). Values that
are not ZIP codes become null. ``restricted`` prefixes (sparsely populated areas,
as in HIPAA Safe Harbor) become zeros (``000``).
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from transforms.operators.base import Operator, OperatorConfig, as_array, as_strings


class ZipPrefixConfig(OperatorConfig):
    kind: Literal["zip_prefix"] = "zip_prefix"
    length: int = Field(default=3, ge=1, le=5, description="digits kept")
    restricted: tuple[str, ...] = ()


class GeneralizeZipPrefix(Operator[ZipPrefixConfig]):
    name = "generalize"
    config_type = ZipPrefixConfig

    def operate(self, values: pa.Array) -> pa.Array:
        array = as_array(values)
        strings = as_strings(array)
        if pa.types.is_integer(array.type):
            strings = pc.utf8_lpad(strings, width=5, padding="0")
        matched = pc.extract_regex(
            pc.utf8_trim_whitespace(strings), pattern=r"^(?P<zip>\d{5})(?:-\d{4})?$"
        )
        zips = pc.struct_field(matched, "zip")
        prefix = pc.utf8_slice_codeunits(zips, 0, self.config.length)
        if not self.config.restricted:
            return prefix
        hidden = pc.is_in(prefix, value_set=pa.array(self.config.restricted, pa.string()))
        return pc.if_else(hidden, pa.scalar("0" * self.config.length), prefix)
