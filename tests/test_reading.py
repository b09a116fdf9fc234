"""Tests for pipeline.reading: how a file was written is set or proven, never guessed."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd
import pytest

from pipeline import config
from pipeline.reading import (
    DateEvidence,
    NumberEvidence,
    ReadChoices,
    ReadError,
    apply_missing_markers,
    date_evidence,
    decide_day_first,
    decide_number_format,
    detect_delimiter,
    detect_encoding,
    number_evidence,
    parse_number_text,
    parse_timestamp_text,
    read_csv_text,
)


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype=pd.StringDtype())


def stamps(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601"), dtype="datetime64[us]")


# ------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("customer,city\nc1,Köln\n".encode(), "utf-8", id="utf-8"),
        pytest.param("customer\nc1\n".encode("utf-8-sig"), "utf-8-sig", id="bom"),
        pytest.param("客户,城市\nc1,上海\nc2,北京\n".encode("gbk"), "gb18030", id="gbk"),
        pytest.param(
            "customer,city\nc1,Köln\nc2,Málaga\n".encode("latin-1"), "cp1252", id="latin-1"
        ),
        pytest.param("item,price\nmug,€3\n".encode("cp1252"), "cp1252", id="cp1252"),
        pytest.param(b"a,b\n1,2\n", "utf-8", id="ascii"),
    ],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert detect_encoding(data) == expected


def test_a_sample_cut_inside_a_character_is_still_utf8() -> None:
    data = "ü".encode() * 10
    assert detect_encoding(data[:-1]) == "utf-8"


# ------------------------------------------------------------------ delimiter


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["a,b,c", "1,2,3"], ","),
        (["a;b;c", "1;2,5;x", "2;3,5;y"], ";"),  # decimal commas do not fool it
        (["a\tb", "1\t2"], "\t"),
        (["a|b", "1|2"], "|"),
        (["a,b", '"1,5",2'], ","),  # a quoted delimiter is not one
        (["just one column", "x"], ","),
    ],
)
def test_detect_delimiter(lines: list[str], expected: str) -> None:
    assert detect_delimiter(lines) == expected


# ------------------------------------------------------------------ read_csv


def test_read_csv_text_keeps_every_cell_as_text_and_numbers_the_lines(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text('id;note;amount\n007;"two\nlines";1,5\n\n008;NA;\n')
    frame, lines, chosen, _ = read_csv_text(path, ReadChoices())

    assert frame.to_dict("list") == {
        "id": ["007", "008"],
        "note": ["two\nlines", "NA"],  # nothing is read as missing here
        "amount": ["1,5", ""],
    }
    # the first record spans lines 2-3, a blank line follows: 008 is on line 5
    assert lines.tolist() == [2, 5]
    assert chosen.encoding == "utf-8" and chosen.delimiter == ";"
    assert chosen.describe() == {
        "encoding": "utf-8 (detected)",
        "delimiter": "; (detected)",
        "decimal": ". (default)",
        "thousands": "none (default)",
    }


def test_a_line_of_spaces_does_not_shift_the_line_numbers(tmp_path) -> None:
    # pandas skips the spaces-only line 3; the ledger must still name 009's own line
    path = tmp_path / "orders.csv"
    path.write_text('id,note,amount\n007,a,1\n   \n008,"two\nlines",2\n009,c,-3\n')
    frame, lines, _, _ = read_csv_text(path, ReadChoices())

    assert frame["id"].tolist() == ["007", "008", "009"]
    assert lines.tolist() == [2, 4, 6]


@pytest.mark.parametrize(
    ("written", "encoding"),
    [
        ("id,who,total,note\n1,c1,5,a\n2,c2\n3,c3,7,c\n4,c4,8", "utf-8"),  # bytes
        ('id,who,total,note\n1,c1,5,"a, b"\n2,c2\n3,c3,7,c\n4,c4,8', "utf-8"),  # quotes
        ("id|who|total|note\n1|张三|5|a\n2|c2\n3|c3|7|c\n4|c4|8", "gb18030"),  # csv module
        ("id,who,total,note\n1,c1,5,a\n\n2,c2\n3,c3,7,c\n4,c4,8\n", "utf-8"),  # blank line
    ],
)
def test_lines_with_too_few_fields_are_told_apart(tmp_path, written: str, encoding: str) -> None:
    """Reviewed: pandas fills a short line's missing fields with "", so a truncated last
    line read as an order with an empty note, and was accepted."""
    path = tmp_path / "orders.csv"
    path.write_bytes(written.encode(encoding))
    delimiter = "|" if "|" in written else ","
    frame, lines, _, fields = read_csv_text(
        path, ReadChoices(encoding=encoding, delimiter=delimiter)
    )
    assert frame["id"].tolist() == ["1", "2", "3", "4"]
    assert fields.tolist() == [4, 2, 4, 3]
    assert lines.tolist() == ([2, 4, 5, 6] if "\n\n" in written else [2, 3, 4, 5])


def test_a_header_ending_in_a_delimiter_does_not_make_rows_short(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("id,who,total,\n1,c1,5\n2,c2,6,\n3,c3\n")
    _, _, _, fields = read_csv_text(path, ReadChoices())
    assert fields.tolist() == [4, 4, 2]  # only the third stops before a named column


def test_a_column_named_twice_stops_the_run_naming_it(tmp_path) -> None:
    # pandas would read the second as "amount.1" and the first would be used unsaid
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,amount,ordered_at,amount\n1,c1,5,2024-01-01,7\n")
    with pytest.raises(ReadError, match=r"'amount' in columns 3, 5"):
        read_csv_text(path, ReadChoices())


def test_read_csv_text_reads_gzip_and_set_choices(tmp_path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress("客户|金额\n张三|12\n".encode("gbk")))
    frame, lines, chosen, _ = read_csv_text(
        path, ReadChoices(encoding="gb18030", delimiter="|", given=("encoding", "delimiter"))
    )
    assert frame.to_dict("list") == {"客户": ["张三"], "金额": ["12"]}
    assert lines.tolist() == [2]
    assert chosen.describe()["encoding"] == "gb18030 (set)"


def test_a_wrong_encoding_names_the_file_and_the_option(tmp_path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("客户,金额\n张三,12\n".encode("gbk"))
    with pytest.raises(ReadError) as err:
        read_csv_text(path, ReadChoices(encoding="utf-8", given=("encoding",)))
    message = str(err.value)
    assert "export.csv" in message and "as utf-8" in message
    assert "source.read.encoding" in message


@pytest.mark.parametrize(("content", "expected"), [(b"", "is empty"), (b"\n\n", "is empty")])
def test_an_empty_file_is_named(tmp_path, content: bytes, expected: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=rf"orders\.csv.*{expected}"):
        read_csv_text(path, ReadChoices())


# ------------------------------------------------------------ missing values


def test_only_the_listed_markers_are_missing_and_each_is_counted() -> None:
    frame = pd.DataFrame(
        {
            "region": text("NA", "EU", "", " NULL ", None),
            "amount": [1.0, np.nan, 3.0, 4.0, 5.0],
        }
    )
    out, counts = apply_missing_markers(frame, ["", "NULL"])

    assert out["region"].tolist() == ["NA", "EU", pd.NA, pd.NA, pd.NA]
    assert counts == {
        "region": {"(null)": 1, "(empty)": 1, "NULL": 1},
        "amount": {"(null)": 1},
    }
    assert frame["region"].tolist()[2] == ""  # the input is not changed


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["12.50", "3"], (".", ",")),
        (["1,250.00", "7"], (".", ",")),
        (["12,5", "3"], (",", ".")),
        (["1.250,00"], (",", ".")),
        (["1.250.000"], (",", ".")),  # two groups: the points are thousands
        (["3", "40"], (".", ",")),  # no separator: nothing to decide
    ],
)
def test_the_decimal_mark_is_proven_by_the_values(values, expected) -> None:
    evidence = number_evidence({"orders.amount": text(*values)})
    assert decide_number_format(evidence, what="orders.csv") == expected


def test_conflicting_or_undecidable_decimal_marks_stop() -> None:
    # the rows of each kind are counted, repeats included (the bar: name the count)
    both = number_evidence({"orders.amount": text("12,5", "12.5", "12,5", "7", "3,25")})
    with pytest.raises(
        ReadError,
        match=r"decimal comma \(3 of 5 values, e\.g\. '12,5' \(orders\.amount\), '3,25'.*"
        r"decimal point \(1 of 5 values, e\.g\. '12\.5'",
    ):
        decide_number_format(both, what="orders.csv")
    only = number_evidence({"orders.amount": text("1.250", "1.250", "8")})
    with pytest.raises(ReadError, match=r"orders\.csv: 2 of 3 values, such as '1\.250'"):
        decide_number_format(only, what="orders.csv")
    with pytest.raises(ReadError, match=r"'1\.250'.*source\.read\.decimal"):
        decide_number_format(NumberEvidence((), (), ("'1.250'",)), what="orders.csv")


def test_numbers_are_parsed_with_the_file_s_separators() -> None:
    european = parse_number_text(
        text("1.250,50", "87,20", "-3", "1.5", None), decimal=",", thousands="."
    )
    np.testing.assert_array_equal(european, [1250.5, 87.2, -3.0, np.nan, np.nan])
    english = parse_number_text(
        text("1,250.50", "1,5", "1e15", "EUR 3"), decimal=".", thousands=","
    )
    # "1,5" is not a grouping of thousands: unreadable, not 15
    np.testing.assert_array_equal(english, [1250.5, np.nan, 1e15, np.nan])


# --------------------------------------------------------------------- dates


def test_the_day_month_order_is_proven_or_the_run_stops() -> None:
    assert decide_day_first(date_evidence([text("25/03/2024", "01/02/2024")]), what="f") is True
    assert decide_day_first(date_evidence([text("03/25/2024 10:00")]), what="f") is False
    assert decide_day_first(date_evidence([text("2024-03-01", "05/05/2024")]), what="f") is None
    with pytest.raises(
        ReadError,
        match=r"day-first \(2 of 4 values, e\.g\. '25/03/2024'.*month-first \(1 of 4 values.*"
        r"date_format",
    ):
        dates = text("25/03/2024", "03/26/2024", "25/03/2024", "2024-01-01")
        decide_day_first(date_evidence([dates]), what="f")
    with pytest.raises(ReadError, match=r"f: 2 of 3 values, dates such as '01/02/2024'"):
        decide_day_first(date_evidence([text("01/02/2024", "01/02/2024", "05/05/2024")]), what="f")
    with pytest.raises(ReadError, match=r"'01/02/2024'.*read as well day-first"):
        decide_day_first(DateEvidence((), (), ("'01/02/2024'",)), what="f")


def test_local_times_the_clocks_skip_or_repeat_are_read_by_rule_and_counted(caplog) -> None:
    # Berlin: 02:30 on 2024-03-31 never happened, 02:30 on 2024-10-27 happened twice
    values = text("2024-03-31 02:30", "2024-10-27 02:30", "2024-06-01 12:00", None)
    with caplog.at_level(logging.WARNING, logger="pipeline.reading"):
        parsed = parse_timestamp_text(values, timezone="Europe/Berlin", what="orders.ordered_at")
    # after the change (03:00 CEST), standard time (CET), summer time
    expected = stamps("2024-03-31 01:00", "2024-10-27 01:30", "2024-06-01 10:00", None)
    pd.testing.assert_series_equal(parsed, expected)
    said = caplog.text
    assert "orders.ordered_at: 1 local times in Europe/Berlin do not exist" in said
    assert "orders.ordered_at: 1 local times in Europe/Berlin occur twice" in said
    assert "2024-03-31 02:30:00" in said and "2024-10-27 02:30:00" in said


def test_timestamps_are_read_iso_then_in_the_proven_order() -> None:
    values = text("2024-03-01 10:00", "01/02/2024 13:05", "01.02.24", "2024/03/05", "nope", None)
    parsed = parse_timestamp_text(values, day_first=True)
    expected = stamps(
        "2024-03-01 10:00", "2024-02-01 13:05", "2024-02-01", "2024-03-05", None, None
    )
    pd.testing.assert_series_equal(parsed, expected)


def test_a_date_format_reads_the_rest_and_iso_still_reads() -> None:
    parsed = parse_timestamp_text(text("02/01/2024", "2024-05-06"), date_format="%m/%d/%Y")
    pd.testing.assert_series_equal(parsed, stamps("2024-02-01", "2024-05-06"))


def test_offsets_are_converted_and_naive_times_need_a_zone_when_mixed() -> None:
    values = text("2024-03-01T12:00:00+08:00", "2024-03-01 12:00:00", "junk")
    with pytest.raises(ReadError, match=r"1 timestamps carry a UTC offset.*1 do not"):
        parse_timestamp_text(values, what="orders.ordered_at")
    parsed = parse_timestamp_text(values, timezone="Europe/Berlin")
    pd.testing.assert_series_equal(parsed, stamps("2024-03-01 04:00", "2024-03-01 11:00", None))
    only_offsets = parse_timestamp_text(text("2024-03-01T12:00:00+08:00", "2024-03-01T00:00Z"))
    pd.testing.assert_series_equal(only_offsets, stamps("2024-03-01 04:00", "2024-03-01 00:00"))


def test_a_ragged_line_is_named_with_its_fields_not_blamed_on_the_delimiter(tmp_path) -> None:
    """Reviewed: one unquoted comma in a value stopped the run with 'set
    source.read.delimiter', although the delimiter was right."""
    path = tmp_path / "orders.csv"
    path.write_text("id,who,at,total\n1,a,2024-01-01,5\n2,b,2024-01-02,6\n3,c,2024-01-03,7,5\n")
    with pytest.raises(ReadError) as err:
        read_csv_text(path, ReadChoices())
    message = str(err.value)
    assert "line 4 has 5 fields where the lines before it have 4" in message, message
    assert "must be quoted" in message


# ------------------------------------------------------------- stray quotes


def test_a_stray_quote_that_swallows_rows_stops_the_run(tmp_path) -> None:
    """Reviewed: a note '"Fragile' (quote never closed) and a later note 'TV 32"'
    (unquoted inch mark) read every line between them into one note: 300 orders
    vanished while the run said read = accepted."""
    rows = [f"{i},c{i},5.00,gift wrap" for i in range(1, 9)]
    rows[2] = '3,c3,5.00,"Fragile'
    rows[6] = '7,c7,5.00,TV 32"'
    path = tmp_path / "orders.csv"
    path.write_text("id,who,total,note\n" + "\n".join(rows) + "\n")
    with pytest.raises(ReadError) as err:
        read_csv_text(path, ReadChoices())
    message = str(err.value)
    assert "orders.csv" in message
    assert "opening on line 4 closes only on line 8: 4 of the 4 lines after line 4" in message
    assert "the 4 fields of a row (e.g. line 5: '4,c4,5.00,gift wrap')" in message
    assert "close or remove it in the file" in message and 'as ""' in message


def test_quoted_values_on_several_lines_still_read(tmp_path) -> None:
    """An address or a comment written on several lines, commas included, is no stray quote."""
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,city,address,note\n"
        '1,Paris,"5 rue de la Paix,\n75002, France","call first\n\nthen ring, twice"\n'
        "2,Lyon,1 place Bellecour,\n"
    )
    frame, lines, _, _ = read_csv_text(path, ReadChoices())
    assert frame["address"].tolist() == ["5 rue de la Paix,\n75002, France", "1 place Bellecour"]
    assert frame["note"].tolist()[0] == "call first\n\nthen ring, twice"
    assert lines.tolist() == [2, 6]


def test_prose_with_a_rows_worth_of_commas_is_no_stray_quote(tmp_path, caplog) -> None:
    """Reviewed: one line of prose inside a quoted value can hold exactly a row's fields
    (a five-column complaints file, a three-column customers file): read, and logged
    with its line in case it was a row after all."""
    complaints = tmp_path / "complaints.csv"
    complaints.write_text(
        "complaint_id,customer_id,opened_at,category,text\n"
        'k1,c1,2024-01-02,delivery,"Parcel late.\n'
        'I ordered shoes, a bag, a belt, and a scarf, none came."\n'
        "k2,c2,2024-01-03,quality,broken\n"
    )
    customers = tmp_path / "customers.csv"
    customers.write_text('id,name,address\n1,Ann,"Flat 2\n12 High St, London, UK"\n2,Bo,x\n')
    with caplog.at_level(logging.WARNING):
        frame, lines, _, _ = read_csv_text(complaints, ReadChoices())
        assert frame["complaint_id"].tolist() == ["k1", "k2"] and lines.tolist() == [2, 4]
        frame, lines, _, _ = read_csv_text(customers, ReadChoices())
        assert frame["address"].tolist() == ["Flat 2\n12 High St, London, UK", "x"]
    assert "quoted value opening on line 2 holds line 3" in caplog.text
    # in a two-column file any line with one comma splits into a row's fields
    notes = tmp_path / "notes.csv"
    notes.write_text('id,note\n1,"call first\nthen ring, twice\nthen mail, once"\n2,x\n')
    frame, lines, _, _ = read_csv_text(notes, ReadChoices())
    assert frame["id"].tolist() == ["1", "2"] and lines.tolist() == [2, 5]


def test_an_unclosed_quote_names_its_line_and_the_fix(tmp_path) -> None:
    """Reviewed: the message said 'Set source.read.delimiter' and 'row 51' for line 52."""
    rows = [f"{i},c{i},2024-01-01,5" for i in range(1, 51)]
    rows.append('999997,"12346,2024-01-02,12.5')
    rows += [f"{i},c{i},2024-01-03,6" for i in range(51, 61)]
    path = tmp_path / "orders.csv"
    path.write_text("id,who,at,total\n" + "\n".join(rows) + "\n")
    with pytest.raises(ReadError) as err:
        read_csv_text(path, ReadChoices())
    message = str(err.value)
    assert "orders.csv" in message
    assert "opening on line 52 is never closed, so the 10 lines after it" in message, message
    assert "'999997,\"12346,2024-01-02,12.5'" in message
    assert "source.read.delimiter" not in message
    assert "Close or remove the quote in the file" in message


# ---------------------------------------------------- thousands separators


@pytest.mark.parametrize(
    ("values", "expected", "amounts"),
    [
        # a few amounts of 1,000 or more among many small ones (French, Swiss exports)
        (["87,20", "3 193,92", "12,5", "1 234 567,5"], (",", " "), [87.2, 3193.92]),
        (["87.20", "3'193.92", "-1'024.68", "7"], (".", "'"), [87.2, 3193.92]),
        (["87,20", "3\u00a0193,92", "1\u00a0024"], (",", "\u00a0"), [87.2, 3193.92]),
        (["87,20", "3\u202f193,92"], (",", "\u202f"), [87.2, 3193.92]),
        (["3 193,92", "1 024,68"], (",", " "), [3193.92, 1024.68]),  # no small amount
        (["12", "1 250"], (".", " "), [12.0, 1250.0]),  # whole numbers
    ],
)
def test_space_and_apostrophe_thousands_are_proven_by_the_values(
    values, expected, amounts, caplog
) -> None:
    """Reviewed: '3 193,92' was read with thousands '.', so every amount of 1,000 or
    more was set aside as unparseable (27% of revenue) while the run said ok."""
    evidence = number_evidence({"orders.amount": text(*values)})
    with caplog.at_level("INFO", logger="pipeline.reading"):
        decimal, thousands = decide_number_format(evidence, what="orders.csv")
    assert (decimal, thousands) == expected
    assert "orders.csv: thousands grouped by" in caplog.text
    parsed = parse_number_text(text(*values), decimal=decimal, thousands=thousands)
    assert not parsed.isna().any()
    np.testing.assert_array_equal(parsed[:2], amounts)


def test_thousands_separators_that_disagree_stop() -> None:
    two = number_evidence({"orders.amount": text("3 193,92", "1.250,00")})
    with pytest.raises(ReadError, match=r"a space \('3 193,92'.*a point.*source\.read\.thousands"):
        decide_number_format(two, what="orders.csv")
    elsewhere = number_evidence({"orders.amount": text("3 193,92", "12 50", "8,5")})
    with pytest.raises(
        ReadError, match=r"'3 193,92'.*a space, but '12 50'.*source\.read\.thousands to ' '"
    ):
        decide_number_format(elsewhere, what="orders.csv")


def test_a_set_thousands_separator_is_used_and_named() -> None:
    parsed = parse_number_text(
        text("3\u00a0193,92", "3 193,92", "87,20"), decimal=",", thousands="\u00a0"
    )
    # only the separator set groups thousands: a plain space is then unreadable
    np.testing.assert_array_equal(parsed, [3193.92, np.nan, 87.2])
    shown = ReadChoices(decimal=",", thousands="\u00a0", given=("thousands",)).describe()
    assert shown["thousands"] == "U+00A0 (no-break space) (set)"
    assert config.SourceRead(decimal=",", thousands="\u202f").thousands == "\u202f"


# ------------------------------------------- exports cut short or shifted (reviewed)


def test_a_short_line_early_in_a_semicolon_export_keeps_its_delimiter(tmp_path) -> None:
    """One short line among the first 200 had a ';' export read with ',' as one column."""
    rows = [f"{i};C{i};09.04.2023;{i},50;web" for i in range(1, 60)]
    rows[9] = "10;C10;09.04.2023;10,50"  # line 11: channel lost
    path = tmp_path / "orders.csv"
    path.write_text("order_id;customer_id;order_date;total;channel\n" + "\n".join(rows) + "\n")
    frame, lines, chosen, fields = read_csv_text(path, ReadChoices())
    assert chosen.delimiter == ";" and frame.shape == (59, 5)
    assert lines[fields < 5].tolist() == [11]


def test_a_line_one_field_short_where_every_line_ends_in_the_delimiter(tmp_path) -> None:
    """Reviewed: with a trailing ',' on every line, a last line cut to '...,web,30' (the
    amount 308.19 cut to 30, its trailing comma lost) passed for whole."""
    path = tmp_path / "orders.csv"
    path.write_text("id,who,channel,total,\n1,c1,app,377.17,\n2,c2,web,30.00,\n3,c3,web,30")
    _, _, _, fields = read_csv_text(path, ReadChoices())
    assert fields.tolist() == [5, 5, 4]


def test_a_first_row_with_a_field_more_than_the_header_stops_the_run(tmp_path) -> None:
    """Reviewed: pandas made the first column the index and every value moved one column
    left (customer_id read from the name column), silently."""
    path = tmp_path / "customers.csv"
    path.write_text("id,name,city,address\nC1,Ann,Lyon,7 Calle Mayor, 2o B\nC2,Bo,Paris,x\n")
    with pytest.raises(ReadError, match=r"line 2 has 5 fields where the header has 4"):
        read_csv_text(path, ReadChoices())


def test_a_mac_export_with_carriage_returns_alone_is_read(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"id,who,total\r1,c1,5\r2,c2\r3,c3,7\r")
    frame, lines, _, fields = read_csv_text(path, ReadChoices())
    assert frame["id"].tolist() == ["1", "2", "3"] and lines.tolist() == [2, 3, 4]
    assert fields.tolist() == [3, 2, 3]


def test_a_file_without_a_final_line_break_names_its_last_line(tmp_path, caplog) -> None:
    """Reviewed: a last value cut inside ('web' to 'we') leaves every field there."""
    path = tmp_path / "orders.csv"
    path.write_text("id,who,channel\n1,c1,web\n2,c2,we")
    with caplog.at_level(logging.WARNING):
        read_csv_text(path, ReadChoices())
    assert "does not end in a line break" in caplog.text and "(3: '2,c2,we')" in caplog.text
    caplog.clear()
    path.write_text("id,who,channel\n1,c1,web\n2,c2,web\n")
    with caplog.at_level(logging.WARNING):
        read_csv_text(path, ReadChoices())
    assert "line break" not in caplog.text


def test_cut_gzip_and_cut_quoted_exports_are_named_as_cut(tmp_path) -> None:
    whole = "id,who,total\n" + "".join(f"{i},c{i},{i}.50\n" for i in range(2000))
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(gzip.compress(whole.encode())[:-40])
    with pytest.raises(ReadError, match=r"orders\.csv\.gz.*cut short"):
        read_csv_text(packed, ReadChoices())
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"id","who","total"\n"1","c1","5"\n"2","c2","3')
    with pytest.raises(ReadError, match=r"ends inside a quoted value on its last line, 3"):
        read_csv_text(quoted, ReadChoices())


def test_a_line_with_a_field_too_many_is_named_by_its_line_in_the_file(tmp_path) -> None:
    """Reviewed: after a complaint text on three lines, pandas' record number was given as
    the line ('line 4', a line inside the quoted text)."""
    path = tmp_path / "complaints.csv"
    path.write_text(
        'id,who,text\nk1,c1,"late\nagain,\nplease refund"\nk2,c2,fine\nk3,c3,late, again\n'
    )
    with pytest.raises(ReadError, match=r"line 6 has 4 fields"):
        read_csv_text(path, ReadChoices())


def test_a_missing_file_is_not_called_a_cut_gzip(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        read_csv_text(tmp_path / "nowhere.csv", ReadChoices())
