"""One backtest run: its configuration, the steps before the portfolio, and the pipeline."""
