"""Simulation: target weights -> a dollar portfolio with costs, cash interest and borrow.

``accrual`` (the cash and borrow indices, no vectorbt), ``config`` (costs and lag), ``engine``
(vectorbt, the reference), ``benchmarks`` (portfolios traded beside every run), and the sweep
kernel in two layers: ``fastsim`` (pandas: inputs, caching, results) over ``kernel`` (numba
functions on arrays), sharing the named codes of ``enums``.
"""
