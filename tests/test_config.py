"""params.yaml: typos and out-of-range values are rejected by name; defaults fill gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic
import pytest

from pipeline.config import Params, load_params

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture
def write(tmp_path):
    def _write(text: str) -> Path:
        path = tmp_path / "params.yaml"
        path.write_text(text)
        return path

    return _write


def error_of(path: Path) -> str:
    with pytest.raises(pydantic.ValidationError) as err:
        load_params(path)
    return str(err.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("chrun:\n  horizon_days: 30\n", "chrun", id="top level"),
        pytest.param("churn:\n  horizn_days: 30\n", "churn.horizn_days", id="nested"),
        pytest.param("source:\n  files:\n    order: o.csv\n", "source.files.order", id="deep"),
    ],
)
def test_unknown_keys_are_rejected_by_name(write, text, key) -> None:
    message = error_of(write(text))

    assert f"\n{key}\n  Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    ("text", "key", "complaint"),
    [
        ("churn:\n  horizon_days: 0\n", "churn.horizon_days", "greater than 0"),
        ("snapshots:\n  every_days: -30\n", "snapshots.every_days", "greater than 0"),
        ("synthetic:\n  survey_share: 1.5\n", "synthetic.survey_share", "less than or equal to 1"),
        ("synthetic:\n  days: 119\n", "synthetic.days", "greater than or equal to 120"),
        ("ingest:\n  on_bad_rows: drop\n", "ingest.on_bad_rows", "'quarantine' or 'fail'"),
        ("source:\n  kind: parquet\n", "source.kind", "'synthetic', 'files' or 'online_retail'"),
    ],
)
def test_out_of_range_values_are_rejected_by_name(write, text, key, complaint) -> None:
    message = error_of(write(text))

    assert f"\n{key}\n  Input should be {complaint}" in message


@pytest.mark.parametrize("orders", ["", "\n    orders: null", "\n    orders: ''"])
def test_files_source_needs_an_orders_file(write, orders) -> None:
    message = error_of(write(f"source:\n  kind: files\n  files:{orders or ' {}'}\n"))

    assert "source.kind is 'files' but source.files.orders is not set" in message


def test_files_source_with_orders_and_column_mapping(write) -> None:
    params = load_params(
        write(
            "source:\n  kind: files\n  files:\n    orders: data/orders.csv\n"
            "  columns:\n    orders:\n      order_id: InvoiceNo\n"
        )
    )

    assert params.source.kind == "files"
    assert params.source.files.orders == "data/orders.csv"
    assert params.source.files.customers is None
    assert params.source.columns == {"orders": {"order_id": "InvoiceNo"}}


def test_empty_file_gives_the_defaults(write) -> None:
    params = load_params(write(""))

    assert params == Params()
    assert params.churn.horizon_days == 90
    assert params.score.band_thresholds == (0.3, 0.6)
    assert params.ingest.on_bad_rows == "quarantine"


def test_dates_are_read_quoted_or_not(write) -> None:
    params = load_params(write('ingest:\n  min_date: 2001-02-03\n  max_date: "2030-01-01"\n'))

    assert params.ingest.min_date == dt.date(2001, 2, 3)
    assert params.ingest.max_date == dt.date(2030, 1, 1)


def test_params_are_frozen(write) -> None:
    params = load_params(write("churn:\n  horizon_days: 30\n"))

    with pytest.raises(pydantic.ValidationError, match="frozen"):
        params.churn.horizon_days = 60  # type: ignore[misc]
    assert params.churn.horizon_days == 30


def test_load_params_reads_params_yaml_of_the_working_directory(write, monkeypatch) -> None:
    path = write("retention:\n  budget:\n    contacts: 7\n")
    monkeypatch.chdir(path.parent)

    assert load_params().retention.budget.contacts == 7


def test_the_repo_params_yaml_loads_with_the_documented_defaults() -> None:
    params = load_params(REPO_PARAMS)
    defaults = Params()

    assert params.churn.horizon_days == 90
    assert params.churn == defaults.churn
    assert params.snapshots == defaults.snapshots
    assert params.ingest == defaults.ingest
    assert params.score == defaults.score
    assert params.explain == defaults.explain
    assert params.retention == defaults.retention
    assert params.source.kind == "synthetic"


def test_retention_plays_must_be_known_plays(write) -> None:
    message = error_of(write("retention:\n  plays:\n    coupons: {offer_cost: 2}\n"))

    assert "unknown play(s) ['coupons']" in message and "winback" in message


def test_pass_through_needs_a_customers_file(write) -> None:
    message = error_of(write("score:\n  pass_through: [email]\n"))

    assert "score.pass_through ['email']" in message
    assert "source.files.customers is not set" in message


@pytest.mark.parametrize("bands", ["[0.7, 0.2]", "[-1, 2]"])
def test_band_thresholds_must_be_increasing_probabilities(write, bands) -> None:
    message = error_of(write(f"score:\n  band_thresholds: {bands}\n"))

    assert "band_thresholds" in message


def test_ingest_date_range_must_not_be_empty(write) -> None:
    message = error_of(write("ingest:\n  min_date: 2030-01-01\n  max_date: 2020-01-01\n"))

    assert "min_date" in message


def test_the_params_check_names_unquoted_dates_that_dvc_cannot_read(write) -> None:
    from pipeline.config import check_params_file

    path = write('score:\n  as_of: 2024-06-01\nsource:\n  export_date: "2024-12-31"\n')
    with pytest.raises(ValueError, match=r'quote the date\(s\) \(score.as_of: "2024-06-01"\)'):
        check_params_file(path)
    assert check_params_file(write('score:\n  as_of: "2024-06-01"\n')).score.as_of == dt.date(
        2024, 6, 1
    )


def test_export_date_alone_means_the_end_of_that_day(write) -> None:
    day = load_params(write('source:\n  export_date: "2024-12-31"\n')).source
    assert day.export_moment == dt.datetime(2025, 1, 1)
    moment = load_params(write('source:\n  export_date: "2024-12-31T18:30:00"\n')).source
    assert moment.export_moment == dt.datetime(2024, 12, 31, 18, 30)


def test_read_options_and_timezone_are_checked(write) -> None:
    assert "not an IANA time zone" in error_of(write("source:\n  timezone: Mars/Base\n"))
    assert "both ','" in error_of(write("source:\n  read: {decimal: ',', thousands: ','}\n"))
    read = load_params(write("")).source.read
    assert "NA" not in read.missing_values and "" in read.missing_values
