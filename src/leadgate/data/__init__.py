"""Data files shipped with leadgate (lists, bundled models)."""
