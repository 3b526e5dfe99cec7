"""Distribution methods, one module each, registered by name in :data:`METHODS`."""

from leadgate.domain.routing.methods import (  # noqa: F401  (importing registers them)
    declared,
    least_loaded,
    performance,
    quality_match,
    round_robin,
    specialist,
    weighted,
)
from leadgate.domain.routing.methods.base import (
    METHODS,
    Context,
    Method,
    Pick,
    get_method,
    register_method,
)

__all__ = ["METHODS", "Context", "Method", "Pick", "get_method", "register_method"]
