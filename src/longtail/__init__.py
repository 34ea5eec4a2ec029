"""longtail: transformer text classifiers for class-imbalanced data."""

from __future__ import annotations

__version__ = "0.1.0"
