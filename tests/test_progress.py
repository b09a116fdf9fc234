"""Progress: a live line on a terminal, one timing line in a log, LightGBM rounds counted."""

from __future__ import annotations

import io
import logging

import lightgbm as lgb
import numpy as np

from pipeline.progress import Progress, lightgbm_callback, timed, track


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_not_a_terminal_but_logs_the_total(caplog) -> None:
    stream = io.StringIO()
    with (
        caplog.at_level(logging.INFO, logger="pipeline.progress"),
        Progress("SHAP", 4, unit="batches", stream=stream) as progress,
    ):
        for _ in range(4):
            progress.update()

    assert stream.getvalue() == ""
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("SHAP: 4 batches in ")
    with (
        caplog.at_level(logging.INFO, logger="pipeline.progress"),
        Progress("one", 1, unit="batches", stream=stream) as progress,
    ):
        progress.update()
    assert caplog.records[-1].getMessage().startswith("one: 1 batch in ")


def test_draws_one_updating_line_on_a_terminal() -> None:
    stream = Terminal()
    with Progress("origins", 2, unit="origins", stream=stream, min_interval=0.0) as progress:
        progress.update()
        progress.update()

    out = stream.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n")
    assert "origins: 1/2 origins (50%)" in out and "about" in out
    assert "origins: 2/2 origins (100%)" in out


def test_a_failed_step_logs_no_timing(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="pipeline.progress"):
        try:
            with Progress("x", 2, stream=io.StringIO()):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        try:
            with timed("step"):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with timed("ok step"):
            pass

    assert [r.getMessage().split(" took")[0] for r in caplog.records] == ["ok step"]


def test_track_counts_items_of_an_iterable() -> None:
    stream = Terminal()

    items = list(track([1, 2, 3], "items", stream=stream))

    assert items == [1, 2, 3]
    assert "items: 3/3 steps (100%)" in stream.getvalue()


def test_lightgbm_callback_counts_boosting_rounds() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1}
    with Progress("rounds", 7, unit="rounds", stream=io.StringIO()) as progress:
        lgb.train(
            params, lgb.Dataset(x, y), num_boost_round=7, callbacks=[lightgbm_callback(progress)]
        )

    assert progress.done == 7
