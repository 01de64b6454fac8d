"""Point-in-time data layer: embedded snapshot, live cache, publication rules, NYSE calendar."""

from drain_data.errors import DrainError
from drain_data.store import Dataset, coverage, load_dataset

__all__ = ["Dataset", "DrainError", "coverage", "load_dataset"]
