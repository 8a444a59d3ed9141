"""What one estimator found: config fields, the statistics behind them, and what it could not estimate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Estimates"]


@dataclass
class Estimates:
    """The output of an estimator, merged by :func:`~STpuppeteer.fit.config.fit_config`.

    Attributes
    ----------
    fields
        Config fields by dotted path (``"tissue.density_per_mm2"``, ``"instrument.qv_mean"``,
        ``"transcripts.nuclear_fraction_by_gene"``) and their fitted values, ready for the config.
    measured
        The statistics the fields come from, by name, with units in the name
        (``"molecules_per_cell_mean"``, ``"ambient_per_um2"``), for the fit's report.
    missing
        Fields (or statistics) not estimated, each with the reason (``"no qv column"``).
    notes
        What an estimate assumed or where it stands, for the fit's report (``"density: area of
        the centroids' hull grown by half a spacing"``).
    """

    fields: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def update(self, other: Estimates) -> Estimates:
        """Add ``other``'s entries (its values win on a shared key); returns ``self``."""
        self.fields.update(other.fields)
        self.measured.update(other.measured)
        self.missing.update(other.missing)
        self.notes.extend(other.notes)
        for key in other.fields:
            self.missing.pop(key, None)
        return self
