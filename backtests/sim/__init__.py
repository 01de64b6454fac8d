"""Simulation: target weights -> a dollar portfolio with costs, cash interest and borrow.

``engine`` (vectorbt, the reference), ``fastsim`` (the fused numba kernel for sweeps),
``config`` (costs and lag), ``benchmarks`` (portfolios traded beside every run).
"""
