"""Outputs: run folders, quantstats tearsheets, plotly pages, tune pages, the runs index."""
