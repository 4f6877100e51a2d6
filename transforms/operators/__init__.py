"""Column operators: small classes built once from a validated frozen config.

``build({"operator": name, ...params}, keys=...)`` gives an instance whose
``operate(values: pyarrow.Array) -> pyarrow.Array`` transforms a whole column
(nulls stay null). Names: keep, drop, redact, replace, mask, pseudonymize,
generalize (kind: h3, time_bucket, range, zip_prefix), encrypt, presidio.
One class per file; see docs/pii.md for every parameter.
"""

from transforms.operators.base import Operator, OperatorConfig
from transforms.operators.drop import Drop
from transforms.operators.encrypt import Encrypt, decrypt
from transforms.operators.factory import GENERALIZERS, OPERATOR_NAMES, OPERATORS, build
from transforms.operators.h3_cell import GeneralizeH3
from transforms.operators.keep import Keep
from transforms.operators.mask import Mask
from transforms.operators.presidio import PresidioRedact
from transforms.operators.pseudonymize import Pseudonymize, epoch_indexes, epoch_key
from transforms.operators.range_bucket import GeneralizeRange
from transforms.operators.redact import Redact
from transforms.operators.replace import Replace
from transforms.operators.time_bucket import GeneralizeTimeBucket
from transforms.operators.zip_prefix import GeneralizeZipPrefix

__all__ = [
    "GENERALIZERS",
    "OPERATORS",
    "OPERATOR_NAMES",
    "Drop",
    "Encrypt",
    "GeneralizeH3",
    "GeneralizeRange",
    "GeneralizeTimeBucket",
    "GeneralizeZipPrefix",
    "Keep",
    "Mask",
    "Operator",
    "OperatorConfig",
    "PresidioRedact",
    "Pseudonymize",
    "Redact",
    "Replace",
    "build",
    "decrypt",
    "epoch_indexes",
    "epoch_key",
]
