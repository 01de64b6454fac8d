"""Tuning: parameter grids, the chunked sweep, and walk-forward validation."""
