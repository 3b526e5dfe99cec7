"""leadgate: a lead distribution engine."""

__version__ = "0.1.0"
