"""Device naming: the CN policy and template (policy), and barcode/UDI scan interpretation.

`scan`, `hibc` and `scanner` are imported by their full module path, not re-exported here:
`certbench.core.config` imports this package, and `scan` needs `config`.
"""

from certbench.core.naming.policy import (
    ALLOWED,
    DEFAULT_TEMPLATE,
    MAX_CN_LENGTH,
    TEMPLATE_FIELDS,
    CnTemplate,
    NamingError,
    normalize_cn,
    validate_cn,
)

__all__ = [
    "ALLOWED",
    "DEFAULT_TEMPLATE",
    "MAX_CN_LENGTH",
    "TEMPLATE_FIELDS",
    "CnTemplate",
    "NamingError",
    "normalize_cn",
    "validate_cn",
]
