"""The names the reports give the shipped model and BG/NBD shipped raw (a baseline).

A module of its own, importing nothing, so the stages that only read predictions (the
forward test) do not load LightGBM to learn a column name.
"""

MODEL = "lightgbm"
RAW_BGNBD = "bgnbd_raw"
