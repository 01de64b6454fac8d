"""Tuning, in the order a tune runs (``tuning.run_tune`` calls them):

- ``config``: the typed ``[tune]`` settings (``TuneConfig``), caps and range checks.
- ``holdout``: sealing the last stretch of data away, and the one look at it afterwards.
- ``grid``: parameter grids and their combinations, each value checked by its config class.
- ``sweep``: the chunked, resumable sweep on the fast kernel.
- ``walkforward``: choose on train windows, trade the test windows, stitch.
- ``analysis``: re-runs through vectorbt and the overfitting statistics (``TuneAnalysis``).
- ``progress``: progress bars of the long stages.
"""
