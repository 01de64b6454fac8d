"""Named codes the sweep kernel reads, derived from the names the other stages define.

The kernel (``backtests.sim.kernel``) sees only integers; these ``IntEnum``s give them names,
and numba folds their members into constants. The first four are built from the tuples that
``strategies`` and ``drain_core`` define, so a variant, rule or regime added there gets its code
here without an edit (and the kernel refuses to compile if a member it names has gone):

- ``Variant``: ``strategies.config.VARIANTS`` in order (``Variant.LONG_ONLY_TILT`` ...).
- ``Rebalance``: ``strategies.config.REBALANCES`` in order.
- ``Regime``: ``drain_core.conventions.REGIMES`` in order, and ``NONE = -1`` before the signal
  has a regime.
- ``Metric``: the columns of the kernel's metrics, ``METRICS`` in order.

The rest name the rows of the kernel's small work arrays and the columns of the parameter rows
``fastsim`` builds (vectorbt ``portfolio/enums.py`` style).
"""

from __future__ import annotations

from enum import IntEnum

from drain_core.conventions import REGIMES
from strategies.config import REBALANCES, VARIANTS

METRICS = ("total_return", "cagr", "sharpe", "volatility", "max_drawdown", "turnover")


def _codes(name: str, labels: tuple[str, ...], **extra: int) -> type[IntEnum]:
    """An IntEnum whose members are ``labels`` upper-cased, numbered 0, 1, ... (plus ``extra``)."""
    members = {**extra, **{label.upper(): code for code, label in enumerate(labels)}}
    return IntEnum(name, members, module=__name__)


Variant = _codes("Variant", VARIANTS)
Rebalance = _codes("Rebalance", REBALANCES)
Regime = _codes("Regime", REGIMES, NONE=-1)
Metric = _codes("Metric", METRICS)


class Charge(IntEnum):
    """Rows of the per-ticker costs: fee and slippage (fractions), and the cash one unit of
    price costs to buy, ``(1 + slippage) * (1 + fee)``."""

    FEE = 0
    SLIPPAGE = 1
    BUY_COST = 2


class Leg(IntEnum):
    """Rows of the kernel's column lists: every leg with a position or a target, the sells, the
    buys, and the legs still held after the fills."""

    ANY = 0
    SELLS = 1
    BUYS = 2
    HELD = 3


class Amount(IntEnum):
    """Rows of the kernel's amounts beside those lists: sell sizes, buy sizes, the buys' sort
    keys (approximate order value) and the held positions."""

    SELL = 0
    BUY = 1
    KEY = 2
    POSITION = 3


class Param(IntEnum):
    """Columns of the parameter row ``fastsim`` builds for each strategy config: codes
    (variant, basis, Gram matrix, rebalance rule), then numbers; the tilt's shares, regime by
    regime and basis by basis, fill the columns from ``TILT`` on."""

    VARIANT = 0
    BASIS = 1
    GRAM = 2
    RULE = 3
    REVERSE = 4
    SCALE = 5
    CAP = 6
    VOL_TARGET = 7
    MAX_LEVERAGE = 8
    CASH_BUFFER = 9
    TILT = 10
