import hashlib

import polars as pl
import pytest

from psrlm import tables
from psrlm.tables import Schema, TableError, read_table, write_table, write_tables

SCHEMA = Schema("toy", {"k": pl.String(), "n": pl.Int64(), "xs": pl.List(pl.String())}, key=("k",),
                nullable=frozenset({"n"}))


def toy(**cols) -> pl.DataFrame:
    base = {"k": ["b", "a"], "n": [2, None], "xs": [["x"], []]}
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={"n": pl.Int64, "xs": pl.List(pl.String)})


def test_round_trip_sorts_by_key_and_keeps_values(tmp_path):
    path = write_table(toy(), tmp_path / "t.parquet", SCHEMA)
    back = read_table(path, SCHEMA).collect()
    assert back["k"].to_list() == ["a", "b"]
    assert back.to_dicts() == [{"k": "a", "n": None, "xs": []}, {"k": "b", "n": 2, "xs": ["x"]}]


def test_same_frame_gives_same_bytes_whatever_the_row_order(tmp_path):
    a = write_table(toy(), tmp_path / "a.parquet", SCHEMA)
    b = write_table(toy().reverse(), tmp_path / "b.parquet", SCHEMA)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


@pytest.mark.parametrize("frame, message", [
    (lambda: toy().drop("n"), "column 'n' is missing"),
    (lambda: toy().with_columns(pl.col("n").cast(pl.Float64)), "column 'n' has dtype Float64, expected Int64"),
    (lambda: toy(k=["a", "a"]), "key column\\(s\\) 'k' have 2 duplicated"),
    (lambda: toy(k=["a", None]), "column 'k' has 1 null"),
    (lambda: toy().with_columns(extra=pl.lit(1)), "column 'extra' is not in the schema"),
])
def test_bad_frame_is_refused_and_nothing_is_written(tmp_path, frame, message):
    with pytest.raises(TableError, match=message):
        write_table(frame(), tmp_path / "t.parquet", SCHEMA)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


def test_write_tables_writes_none_when_one_is_bad(tmp_path):
    with pytest.raises(TableError, match="bad.parquet"):
        write_tables([(toy(), tmp_path / "good.parquet", SCHEMA),
                      (toy(k=["a", "a"]), tmp_path / "bad.parquet", SCHEMA)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("frame, message", [
    (lambda: toy().drop("xs"), "t.parquet: column 'xs' is missing"),
    (lambda: toy().with_columns(pl.col("n").cast(pl.Int32)), "t.parquet: column 'n' has dtype Int32, expected Int64"),
    (lambda: toy(k=["a", "a"]), "t.parquet: key column\\(s\\) 'k' have 2 duplicated row"),
    (lambda: toy(k=["a", None]), "t.parquet: column 'k' has 1 null"),
])
def test_reading_a_bad_file_names_file_column_and_problem(tmp_path, frame, message):
    frame().write_parquet(tmp_path / "t.parquet")
    with pytest.raises(TableError, match=message):
        read_table(tmp_path / "t.parquet", SCHEMA)


def test_reading_a_missing_or_broken_file(tmp_path):
    with pytest.raises(TableError, match="nope.parquet: file not found"):
        read_table(tmp_path / "nope.parquet", SCHEMA)
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(TableError, match="junk.parquet: not a readable Parquet file"):
        read_table(tmp_path / "junk.parquet", SCHEMA)


@pytest.mark.parametrize("schema", [v for v in vars(tables).values() if isinstance(v, Schema)])
def test_declared_schemas_have_their_keys_among_columns(schema):
    assert set(schema.key) <= set(schema.columns)
    assert schema.nullable <= set(schema.columns) - set(schema.key)
