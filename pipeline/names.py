"""The names every report gives the shipped model and its baselines.

A module of its own, importing nothing, so the stages that only read predictions (the
forward test) do not load LightGBM to learn a column name.
"""

MODEL = "lightgbm"
# Baselines shipped like the model (trained before, calibrated on, the validation cutoff).
BASELINES = ("recency", "logistic", "bgnbd")
RAW_BGNBD = "bgnbd_raw"
