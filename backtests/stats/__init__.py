"""Statistics: performance summaries, overfitting tests, and the econometrics of the thesis."""
