"""The sweep kernel: numba functions on plain arrays, no pandas (as vectorbt's ``nb`` modules).

``backtests.sim.fastsim`` builds every input (deflated closes, basis matrices, Gram matrices, the
``*_next`` day tables) and calls ``simulate_many``; ``backtests.sim.enums`` names the codes.
Each combination c runs on its own (``simulate_many`` runs them in parallel threads,
``_simulate_one`` runs one), in these steps:

1. **Jump** to the next day that can change anything: the first of the exposure trigger (a
   regime change, or the signal variant's exposure turning on or off), the rebalance schedule, a
   basis' change of held names, and the next pending fill (``_simulate_one``, top of its loop,
   reading the tables ``fastsim`` built).
2. **Decide** at close t: exposures ``a_k(t)`` from the regime or the composite
   (``_exposure``), weights ``sum_k a_k(t) B_k(t)`` (``_combine``), volatility targeting from the
   day's Gram matrix (``_vol_factor``), whether the set of held names changed
   (``_held_changed``), the long-side cap (``_cap_longs``); on a rebalance the weights are
   queued in a ring for the fill at t + lag (``_simulate_one``, step 1 of its loop).
3. **Value** the closes since the last fill at the fixed book: positions times deflated closes
   plus cash (``_book_values``, ``_plus_cash``).
4. **Fill** at close t + lag (``_fill``): target-percent orders at the pre-trade group value,
   split into sells and buys (``_orders``), sells first, buys in vectorbt's order when cash may
   run short (``_sort_buys``), with vectorbt's ``sell_nb``/``buy_nb`` arithmetic and tolerances
   (``_sell``, ``_buy``, ``_add``, ``_snap``, ``_is_close``); then the legs still held
   (``_held``) and the day's turnover (``_simulate_one``, step 2 of its loop).
5. **Finish** after the last day: value the remaining closes, turn the deflated values into
   daily returns of the dollar equity ``value * cash_index``, and compute the metrics, Sharpe
   on the returns in excess of the cash return ``cash_returns`` (``_finish``, one row of
   ``metrics`` per combination, columns ``Metric``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from backtests.sim.enums import Amount, Charge, Leg, Metric, Regime, Variant
from drain_core.conventions import PERIODS_PER_YEAR

MAX_BASES = 3  # basis matrices per combination: the tilt's two baskets and its hedge asset
_PPY = float(PERIODS_PER_YEAR)  # numba reads module globals as constants
_REL_TOL = 1e-9  # vectorbt.utils.math_ tolerances
_ABS_TOL = 1e-12
_LIST_ROWS = len(Leg)
_AMOUNT_ROWS = len(Amount)


@njit(cache=True, inline="always", error_model="numpy")
def _is_close(a: float, b: float) -> bool:
    """vectorbt's ``is_close_nb`` for finite numbers (NaN compares False either way)."""
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit(cache=True, inline="always", error_model="numpy")
def _add(a: float, b: float) -> float:
    """vectorbt's ``add_nb``: a sum that snaps to 0 when the two cancel within tolerance.

    Same result, fewer operations: for opposite signs ``| |a| - |b| |`` is exactly ``|a + b|``
    and vectorbt tests it against ``max(rel_tol * max(|a|, |b|), abs_tol)``; for equal signs (or
    a zero) it tests ``|a + b|`` against ``abs_tol``, and then ``|a + b| >= max(|a|, |b|)`` makes
    the same test against the larger bound give the same answer.
    """
    total = a + b
    if abs(total) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL):
        return 0.0
    return total


@njit(cache=True, inline="always", error_model="numpy")
def _snap(x: float) -> float:
    """``0.0 if is_close(x, 0) else x``; for a zero target that is ``|x| <= abs_tol``."""
    return 0.0 if abs(x) <= _ABS_TOL else x


@njit(cache=True, inline="always", error_model="numpy")
def _exposure(variant: int, code: int, comp: float, reverse: bool, scale: float, cap: float,
              tilt: np.ndarray, a: np.ndarray) -> None:
    """Per-basis exposures a[0..2] of one combination on one day."""
    a[1] = 0.0
    a[2] = 0.0
    if variant == Variant.SIGNAL_LONG_SHORT:  # composite / scale, clipped, NaN -> 0
        if np.isnan(comp):
            a[0] = 0.0
        else:
            x = comp / scale
            floor = -cap if reverse else 0.0
            if x < floor:
                x = floor
            if x > cap:
                x = cap
            a[0] = x
    elif variant == Variant.LONG_ONLY_TILT:  # shares per regime, zeros before a regime
        if code == Regime.NONE:
            a[0] = 0.0
        else:
            a[0] = tilt[code, 0]
            a[1] = tilt[code, 1]
            a[2] = tilt[code, 2]
    else:  # regime_long_short, beta_hedged: +1 draining/scarce, 0 or -1 abundant
        if code == Regime.NONE:
            a[0] = 0.0
        elif code == Regime.ABUNDANT:
            a[0] = -1.0 if reverse else 0.0
        else:
            a[0] = 1.0


@njit(cache=True, inline="always", error_model="numpy")
def _book_value(cols, amounts, n_active: int, row) -> float:
    """Sum of position x price over the held columns, added in column order (as vectorbt)."""
    total = 0.0
    for q in range(n_active):
        total += amounts[Amount.POSITION, q] * row[cols[Leg.HELD, q]]
    return total


@njit(cache=True, inline="always", error_model="numpy")
def _book_values(out, close_t, cols, amounts, n_active: int, first: int, last: int) -> None:
    """``out[first..last]``: ``_book_value`` of each of those days (the same additions in the
    same order), four columns per pass over the days so that the days vectorise (unsigned day
    numbers: no negative-index wraparound in the loops)."""
    lo = np.uint64(first)
    hi = np.uint64(last + 1)
    for d in range(lo, hi):
        out[d] = 0.0
    for q in range(0, n_active - 3, 4):
        p0, p1 = amounts[Amount.POSITION, q], amounts[Amount.POSITION, q + 1]
        p2, p3 = amounts[Amount.POSITION, q + 2], amounts[Amount.POSITION, q + 3]
        j0, j1 = cols[Leg.HELD, q], cols[Leg.HELD, q + 1]
        j2, j3 = cols[Leg.HELD, q + 2], cols[Leg.HELD, q + 3]
        for d in range(lo, hi):
            out[d] = ((((out[d] + p0 * close_t[j0, d]) + p1 * close_t[j1, d])
                       + p2 * close_t[j2, d]) + p3 * close_t[j3, d])
    for q in range(n_active - n_active % 4, n_active):
        p = amounts[Amount.POSITION, q]
        j = cols[Leg.HELD, q]
        for d in range(lo, hi):
            out[d] += p * close_t[j, d]


@njit(cache=True, inline="always", error_model="numpy")
def _plus_cash(out, cash: float, first: int, end: int) -> None:
    """``out[first:end] = cash + out[first:end]`` (unsigned day numbers, as above)."""
    for d in range(np.uint64(first), np.uint64(end)):
        out[d] = cash + out[d]


@njit(cache=True, inline="always", error_model="numpy")
def _buy(cash: float, position: float, amount: float, px: float, slip: float,
         fee: float) -> tuple[float, float, float, float, float]:
    """vectorbt ``buy_nb`` (cash-limited, partial fill): cash, position, size, price, fees."""
    adj_price = px * (1.0 + slip)
    if cash == 0.0:
        return cash, position, 0.0, adj_price, 0.0
    req_cash = amount * adj_price
    req_fees = req_cash * fee
    total = req_cash + req_fees
    if total < cash or _is_close(total, cash):
        final_size = amount
        fees_paid = req_fees
        final_req = total
    else:
        max_req = _add(cash, -0.0) / (1.0 + fee)
        if max_req <= 0.0:
            return cash, position, 0.0, adj_price, 0.0
        final_size = max_req / adj_price
        fees_paid = cash - max_req
        final_req = cash
    if abs(amount) <= _ABS_TOL:  # is_close(amount, 0)
        return cash, position, 0.0, adj_price, 0.0
    return _add(cash, -final_req), _add(position, final_size), final_size, adj_price, fees_paid


@njit(cache=True, inline="always", error_model="numpy")
def _sell(cash: float, position: float, size: float, px: float, slip: float,
          fee: float) -> tuple[float, float, float, float, float]:
    """vectorbt ``sell_nb`` (short sales are not cash-limited): cash, position, size, price,
    fees."""
    adj_price = px * (1.0 - slip)
    if abs(size) <= _ABS_TOL:  # is_close(size, 0)
        return cash, position, 0.0, adj_price, 0.0
    acq = size * adj_price
    fees_paid = acq * fee
    final_acq = _add(acq, -fees_paid)
    if final_acq < 0.0:
        return cash, position, 0.0, adj_price, 0.0
    return cash + final_acq, _add(position, -size), size, adj_price, fees_paid


@njit(cache=True, inline="always", error_model="numpy")
def _orders(target, pos, row, value: float, value_now: float, charges, cols,
            amounts) -> tuple[int, int, int, float]:
    """Each leg's target-percent order at group value ``value``, sorted into sells and buys in
    column order (``cols[Leg.SELLS]`` with ``amounts[Amount.SELL]``, ``cols[Leg.BUYS]`` with
    ``amounts[Amount.BUY]`` and the sort key ``amounts[Amount.KEY]``): (legs with a position or
    a target, sells, buys, the cash the buys need). ``cols[Leg.ANY]`` lists those legs in
    column order: every column that can hold a position after. The counts are unsigned (no
    negative-index wraparound when writing the lists)."""
    one = np.uint64(1)
    n_legs = np.uint64(0)
    n_buy = np.uint64(0)
    n_sell = np.uint64(0)
    need = 0.0
    for nt in range(target.shape[0]):
        tw = target[nt]
        if tw == 0.0 and pos[2 * nt] == 0.0 and pos[2 * nt + 1] == 0.0:
            continue  # a no-op in vectorbt too
        for j in range(2 * nt, 2 * nt + 2):  # the long leg, then the short leg
            size = min(tw, 0.0) if j & 1 else max(tw, 0.0)
            held_now = pos[j]
            if held_now == 0.0 and size == 0.0:
                continue
            cols[Leg.ANY, n_legs] = j
            n_legs += one
            px = row[j]
            if np.isnan(px):
                continue
            position = _snap(held_now)
            pos[j] = position
            amount = size * value
            amount = amount / px
            amount = amount - position
            # Sort the legs into sells and buys without a branch (which way a leg trades is a
            # coin flip for the branch predictor): write the leg to both lists, advance only
            # the one it belongs to.
            cols[Leg.SELLS, n_sell] = j
            amounts[Amount.SELL, n_sell] = -amount
            n_sell += np.uint64(amount <= 0.0)
            cols[Leg.BUYS, n_buy] = j
            amounts[Amount.BUY, n_buy] = amount
            amounts[Amount.KEY, n_buy] = size * value_now - held_now * px
            need += max(amount, 0.0) * px * charges[Charge.BUY_COST, nt]
            n_buy += np.uint64(amount > 0.0)
    return n_legs, n_sell, n_buy, need


@njit(cache=True, inline="always", error_model="numpy")
def _sort_buys(n_buy: int, cols, amounts) -> None:
    """vectorbt's order for buys: a stable insertion sort by approximate order value."""
    for q in range(1, n_buy):
        key = amounts[Amount.KEY, q]
        col_q = cols[Leg.BUYS, q]
        amt_q = amounts[Amount.BUY, q]
        i = q - 1
        while i >= 0 and amounts[Amount.KEY, i] > key:
            amounts[Amount.KEY, i + 1] = amounts[Amount.KEY, i]
            cols[Leg.BUYS, i + 1] = cols[Leg.BUYS, i]
            amounts[Amount.BUY, i + 1] = amounts[Amount.BUY, i]
            i -= 1
        amounts[Amount.KEY, i + 1] = key
        cols[Leg.BUYS, i + 1] = col_q
        amounts[Amount.BUY, i + 1] = amt_q


@njit(cache=True, inline="always", error_model="numpy")
def _fill(target, pos, row, cash: float, value_now: float, charges, cols, amounts,
          ) -> tuple[float, float, float, int]:
    """Fill one day's target-percent orders, sells before buys: (cash, traded, costs, number
    of legs in ``cols[Leg.ANY]``, -1 when no order was sent)."""
    traded = 0.0
    costs = 0.0
    value = _snap(value_now)
    if not value > 0.0:  # vectorbt ignores or rejects every order (NaN too)
        return cash, traded, costs, -1
    n_legs, n_sell, n_buy, need = _orders(target, pos, row, value, value_now, charges, cols,
                                          amounts)
    for q in range(n_sell):  # sells first, in column order (never cash-limited)
        j = cols[Leg.SELLS, q]
        nt = j >> np.uint64(1)
        px = row[j]
        cash = _snap(cash)
        cash, pos[j], done, price, paid = _sell(cash, pos[j], amounts[Amount.SELL, q], px,
                                                charges[Charge.SLIPPAGE, nt],
                                                charges[Charge.FEE, nt])
        traded += done * price
        costs += paid + abs(price - px) * done
    cash = _snap(cash)
    if need > cash * (1.0 - 1e-7):  # may run short: vectorbt's order decides
        _sort_buys(int(n_buy), cols, amounts)
    for q in range(n_buy):
        j = cols[Leg.BUYS, q]
        nt = j >> np.uint64(1)
        px = row[j]
        cash = _snap(cash)
        cash, pos[j], done, price, paid = _buy(cash, pos[j], amounts[Amount.BUY, q], px,
                                               charges[Charge.SLIPPAGE, nt],
                                               charges[Charge.FEE, nt])
        traded += done * price
        costs += paid + abs(price - px) * done
    return cash, traded, costs, int(n_legs)


@njit(cache=True, inline="always", error_model="numpy")
def _held(cols, amounts, n_legs: int, pos) -> int:
    """Write the columns of ``cols[Leg.ANY]`` still holding a position (in column order) into
    ``cols[Leg.HELD]`` and their positions into ``amounts[Amount.POSITION]``; return how many
    there are."""
    n_active = np.uint64(0)
    for q in range(n_legs):
        j = cols[Leg.ANY, q]
        cols[Leg.HELD, n_active] = j
        amounts[Amount.POSITION, n_active] = pos[j]
        n_active += np.uint64(pos[j] != 0.0)
    return int(n_active)


@njit(cache=True, inline="always", error_model="numpy")
def _vol_factor(a, gm, k: int, target: float, max_lev: float) -> float:
    """Volatility targeting: ``target`` over the book volatility ``sqrt(a' G a * 252)``,
    at most ``max_lev``; 1 before a full window or for a flat book."""
    if np.isnan(gm[0, 0]):
        return 1.0
    v2 = 0.0
    for i in range(k):
        for j in range(k):
            v2 += a[i] * a[j] * gm[i, j]
    vol = math.sqrt(max(v2, 0.0)) * math.sqrt(_PPY)
    return min(target / vol, max_lev) if vol > 0.0 else 1.0


@njit(cache=True, inline="always", error_model="numpy")
def _combine(w, bases, b0: int, t: int, a, k: int) -> None:
    """``w = sum_k B_k(t) * a_k``, rounded as ``strategies`` rounds it."""
    basis_t = bases[b0, t]
    if k == 1:
        a0 = a[0]
        for n in range(w.shape[0]):
            w[n] = basis_t[n] * a0
    else:
        a0, a1, a2 = a[0], a[1], a[2]
        basis_1 = bases[b0 + 1, t]
        basis_2 = bases[b0 + 2, t]
        for n in range(w.shape[0]):
            w[n] = basis_t[n] * a0 + basis_1[n] * a1 + basis_2[n] * a2


@njit(cache=True, inline="always", error_model="numpy")
def _cap_longs(w, buffer: float) -> None:
    """No margin loans: scale the longs down to ``1 - buffer`` plus the short proceeds."""
    longs = 0.0
    shorts = 0.0
    for n in range(w.shape[0]):
        longs += max(w[n], 0.0)
        shorts += min(w[n], 0.0)
    room = 1.0 - buffer - shorts
    if longs > room:
        cap_scale = room / longs
        for n in range(w.shape[0]):
            if w[n] > 0.0:
                w[n] = w[n] * cap_scale


@njit(cache=True, inline="always", error_model="numpy")
def _held_changed(w, held) -> bool:
    """Record which names ``w`` holds; True if that set differs from the recorded one."""
    changed = False
    for n in range(w.shape[0]):
        now = w[n] != 0.0
        if now != held[n]:
            changed = True
            held[n] = now
    return changed


@njit(cache=True, inline="always", error_model="numpy")
def _finish(c: int, value, cash_index, cash_returns, init_cash: float, turnover: float,
            metrics, out_returns) -> None:
    """Daily returns of the dollar equity ``value * cash_index`` and the metrics of row ``c``
    (``value`` is overwritten with the returns). Sharpe is on the returns in excess of
    ``cash_returns`` (the bill rate the cash earned each day); total return, CAGR, volatility
    and drawdown are of the returns themselves."""
    n_days = value.shape[0]
    prev_equity = init_cash
    peak = init_cash
    mdd = 0.0
    mean = 0.0
    mean_excess = 0.0
    for t in range(n_days):
        equity = value[t] * cash_index[t]
        ret = equity / prev_equity - 1.0
        value[t] = ret
        out_returns[c, t] = ret
        mean += ret
        mean_excess += ret - cash_returns[t]
        prev_equity = equity
        if equity > peak:
            peak = equity
        elif equity < peak * (1.0 + mdd):  # a deeper drawdown (divide only then)
            mdd = equity / peak - 1.0
    mean /= n_days
    mean_excess /= n_days
    ss = 0.0
    ss_excess = 0.0
    for t in range(n_days):
        ss += (value[t] - mean) ** 2
        ss_excess += (value[t] - cash_returns[t] - mean_excess) ** 2
    sd = math.sqrt(ss / (n_days - 1)) if n_days > 1 else np.nan
    sd_excess = math.sqrt(ss_excess / (n_days - 1)) if n_days > 1 else np.nan
    sq252 = math.sqrt(_PPY)
    total = prev_equity / init_cash - 1.0
    metrics[c, Metric.TOTAL_RETURN] = total
    metrics[c, Metric.CAGR] = (1.0 + total) ** (_PPY / n_days) - 1.0 if total > -1.0 else -1.0
    metrics[c, Metric.SHARPE] = mean_excess / sd_excess * sq252 if sd_excess > 0.0 else np.nan
    metrics[c, Metric.VOLATILITY] = sd * sq252
    metrics[c, Metric.MAX_DRAWDOWN] = mdd
    metrics[c, Metric.TURNOVER] = turnover * _PPY / n_days


@njit(cache=True, error_model="numpy")
def _simulate_one(
    c, close, close_t, charges, cash_index, cash_returns, init_cash, bases, pids, pid_next,
    grams, composite, regime, trigger_next, schedule_next, sig, variant, basis, gram, trigger,
    schedule, reverse, scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics,
    out_returns,
):
    """One combination: decide at close t, fill at close t + lag, value every close.

    Only some days can change anything: rebalance days, days when the exposures' inputs change
    (the regime, or the sign of the signal variant's exposure), days when a basis' set of names
    changes, and fill days; ``*_next[t]`` is the first such day from t on, and the loop jumps
    from one to the next. Between fills the book is fixed, and a whole span of closes is valued
    at once (``_book_values``).
    """
    n_days, n_cols = close.shape
    n_tick = n_cols // 2
    s = sig[c]
    var = variant[c]
    b0 = basis[c]
    k = MAX_BASES if var == Variant.LONG_ONLY_TILT else 1
    g = gram[c]
    lg = lag[c]
    buffer = cash_buffer[c]
    reg = regime[s]
    comp = composite[s]
    triggers = trigger_next[trigger[c]]
    rebalances = schedule_next[schedule[c]]
    pos = np.zeros(n_cols)
    cols = np.empty((_LIST_ROWS, n_cols), dtype=np.uint64)  # scratch column lists, rows Leg
    amounts = np.empty((_AMOUNT_ROWS, n_cols))  # and their amounts, rows Amount
    n_active = 0  # columns holding a position: cols[Leg.HELD, :n_active]
    held = np.zeros(n_tick, dtype=np.bool_)
    pending = np.zeros((lg + 1, n_tick))  # decided weights waiting for their fill (a ring)
    due = np.empty(lg + 1, dtype=np.int64)  # and their fill days
    head = 0
    n_pending = 0
    a = np.zeros(MAX_BASES)
    tilt_c = tilt[c]
    value = np.empty(n_days)  # group value at each close (deflated), then the returns
    mask_prev = -1
    code_prev = Regime.NONE - 1  # below every code: the first decision computes exposures
    pid_prev = np.full(MAX_BASES, -1, dtype=np.int64)
    cash = init_cash
    first = 0  # the first close not valued yet
    turnover = 0.0
    t = 0
    while t < n_days:
        decide = min(triggers[t], rebalances[t])
        for kk in range(k):
            decide = min(decide, pid_next[b0 + kk, t])
        t = min(decide, due[head]) if n_pending > 0 else decide
        if t >= n_days:
            break
        # ---- 1. the decision at close t (sent at close t + lag) ----------------------------
        if t == decide:
            code = reg[t]
            if var == Variant.SIGNAL_LONG_SHORT or code != code_prev:  # others: regime only
                _exposure(var, code, comp[t], reverse[c], scale_p[c], cap_p[c], tilt_c, a)
                code_prev = code
            mask_bits = 0
            changed = False
            for kk in range(k):
                if a[kk] != 0.0:
                    mask_bits |= 1 << kk
                    if pids[b0 + kk, t] != pid_prev[kk]:
                        changed = True
            changed = changed or mask_bits != mask_prev
            is_reb = rebalances[t] == t
            slot = head + n_pending
            slot = slot - lg - 1 if slot > lg else slot
            if changed or is_reb:
                w = pending[slot]
                _combine(w, bases, b0, t, a, k)
                if g >= 0:  # (B * a) * factor
                    factor = _vol_factor(a, grams[g, t], k, vol_target[c], max_lev[c])
                    for n in range(n_tick):
                        w[n] = w[n] * factor
                if changed:  # the set of held names may have changed: compare it exactly
                    is_reb = _held_changed(w, held) or is_reb
                    mask_prev = mask_bits
                    for kk in range(k):
                        pid_prev[kk] = pids[b0 + kk, t] if a[kk] != 0.0 else -1
                if is_reb and not np.isnan(buffer):
                    _cap_longs(w, buffer)
            if is_reb:
                due[slot] = t + lg
                n_pending += 1
        # ---- 2. orders decided at t - lag, filled at close t -------------------------------
        if n_pending > 0 and due[head] == t:
            _book_values(value, close_t, cols, amounts, n_active, first, t)
            _plus_cash(value, cash, first, t)  # the closes since the last fill
            cash = _snap(cash)
            cash, traded, costs, n_legs = _fill(pending[head], pos, close[t], cash,
                                                cash + value[t], charges, cols, amounts)
            if n_legs >= 0:
                n_active = _held(cols, amounts, n_legs, pos)
            value[t] = cash + _book_value(cols, amounts, n_active, close[t])
            if traded > 0.0:
                turnover += traded / (value[t] + costs)
            first = t + 1
            head = head + 1 if head < lg else 0
            n_pending -= 1
        t += 1
    _book_values(value, close_t, cols, amounts, n_active, first, n_days - 1)
    _plus_cash(value, cash, first, n_days)
    _finish(c, value, cash_index, cash_returns, init_cash, turnover, metrics, out_returns)


@njit(cache=True, parallel=True, nogil=True)
def simulate_many(
    close, close_t, charges, cash_index, cash_returns, init_cash, bases, pids, pid_next, grams,
    composite, regime, trigger_next, schedule_next, sig, variant, basis, gram, trigger, schedule,
    reverse, scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics, out_returns,
):
    """Simulate every combination (one per entry of ``sig``, in parallel): its row of
    ``metrics`` and ``out_returns`` is written in place. Per-combination arguments (``sig``
    to ``lag``) are arrays of one entry per combination; the others are shared."""
    for c in prange(sig.shape[0]):
        _simulate_one(
            c, close, close_t, charges, cash_index, cash_returns, init_cash, bases, pids,
            pid_next, grams, composite, regime, trigger_next, schedule_next, sig, variant, basis,
            gram, trigger, schedule, reverse, scale_p, cap_p, tilt, vol_target, max_lev,
            cash_buffer, lag, metrics, out_returns,
        )
