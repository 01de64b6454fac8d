"""``compute_signal``: components -> point-in-time z-scores -> gated composite -> regimes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from signals.components import buffer_depleted, compute_components
from signals.config import SignalConfig
from signals.pit import Prepared
from signals.transforms import (
    REGIMES,
    expanding_zscore,
    gate_factor,
    pca_composite,
    pca_loadings,
    regimes_with_hysteresis,
    rolling_zscore,
    weighted_composite,
    winsorise,
)

__all__ = ["REGIMES", "SignalResult", "compute_signal", "standardise"]


@dataclass(frozen=True)
class SignalResult:
    """The signal on ``dataset.sessions``; every value uses only data known at that close.

    components: raw component values (higher = more drain), one column per component.
    zscores: the components standardised on the past only and winsorised.
    composite: the combined signal with the buffer gate; composite_ungated: without it.
    regime: ordered categorical over ``REGIMES`` (NaN during the warm-up).
    buffer_depleted: True where the idle-money buffer (ON RRP) is depleted.
    """

    components: pd.DataFrame
    zscores: pd.DataFrame
    composite: pd.Series
    composite_ungated: pd.Series
    regime: pd.Series
    buffer_depleted: pd.Series

    @property
    def regime_code(self) -> pd.Series:
        """Regimes as ints: 0 abundant, 1 draining, 2 scarce, -1 unknown."""
        return pd.Series(self.regime.cat.codes.astype(int), index=self.regime.index,
                         name="regime_code")

    def on(self, sessions: pd.DatetimeIndex) -> SignalResult:
        """The same result restricted to ``sessions``."""
        return SignalResult(
            components=self.components.reindex(sessions),
            zscores=self.zscores.reindex(sessions),
            composite=self.composite.reindex(sessions),
            composite_ungated=self.composite_ungated.reindex(sessions),
            regime=self.regime.reindex(sessions),
            buffer_depleted=self.buffer_depleted.reindex(sessions, fill_value=False),
        )

    def to_frame(self) -> pd.DataFrame:
        """One frame: composite, composite_ungated, regime, buffer_depleted, raw_*, z_*."""
        head = pd.DataFrame(
            {
                "composite": self.composite,
                "composite_ungated": self.composite_ungated,
                "regime": self.regime,
                "buffer_depleted": self.buffer_depleted,
            }
        )
        raw = self.components.add_prefix("raw_")
        z = self.zscores.add_prefix("z_")
        frame = pd.concat([head, raw, z], axis=1)
        frame.columns.name = None
        frame.index.name = "date"
        return frame


def standardise(components: pd.DataFrame, config: SignalConfig) -> pd.DataFrame:
    """Z-scores on the past only (expanding or rolling, as configured), winsorised."""
    if config.standardise == "expanding":
        z = expanding_zscore(components, config.z_min_periods)
    else:
        z = rolling_zscore(components, config.z_window, config.z_min_periods)
    return winsorise(z, config.z_clip)


def compute_signal(dataset, config: SignalConfig | None = None) -> SignalResult:
    """Compute every component, their z-scores, the gated and ungated composite and regimes.

    ``dataset`` may be a ``Prepared`` one, to share its work among calls with several configs
    (the same result as its plain dataset)."""
    config = SignalConfig() if config is None else config
    prepared = dataset if isinstance(dataset, Prepared) else Prepared(dataset)
    result = _compute_on(prepared, config)
    return result.on(prepared.dataset.sessions)


def _compute_on(dataset: Prepared, config: SignalConfig) -> SignalResult:
    components = compute_components(dataset, config)
    zscores = standardise(components, config)
    depleted = buffer_depleted(dataset, config)
    if config.gate == "logistic":
        if "rrp_scarcity" in zscores:
            buffer_z = zscores["rrp_scarcity"]
        else:
            from signals.components import rrp_scarcity

            buffer_z = standardise(rrp_scarcity(dataset, config).to_frame(), config).iloc[:, 0]
    else:
        buffer_z = pd.Series(float("nan"), index=zscores.index)
    factor = gate_factor(config.gate, depleted=depleted, buffer_z=buffer_z, k=config.gate_k,
                         center=config.gate_center, steepness=config.gate_steepness)
    gated = zscores.copy()
    for name in config.gated_components:
        if name in gated:
            gated[name] = gated[name] * factor
    if config.combine == "weights":
        weights = pd.Series(config.weights_dict)
        ungated = weighted_composite(zscores, weights, config.min_components)
        composite = weighted_composite(gated, weights, config.min_components)
    else:
        loadings = pca_loadings(zscores, config.pca_min_periods)
        ungated = pca_composite(zscores, loadings, config.min_components)
        composite = pca_composite(gated, loadings, config.min_components)
    regime = regimes_with_hysteresis(composite, config.draining_above, config.scarce_above,
                                     config.hysteresis)
    return SignalResult(
        components=components,
        zscores=zscores,
        composite=composite.rename("composite"),
        composite_ungated=ungated.rename("composite_ungated"),
        regime=regime,
        buffer_depleted=depleted.astype(bool),
    )
