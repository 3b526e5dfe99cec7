"""Distribution methods, one module each, registered by name in :data:`METHODS`."""

from leadgate.domain.routing.methods import round_robin  # noqa: F401  (registers)
from leadgate.domain.routing.methods.base import (
    METHODS,
    Context,
    Method,
    Pick,
    get_method,
    register_method,
)

__all__ = ["METHODS", "Context", "Method", "Pick", "get_method", "register_method"]
