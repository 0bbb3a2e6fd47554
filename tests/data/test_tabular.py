import numpy as np
import pytest

from keras_bigmodels.data.tabular import load_csv


def test_csv_numeric_categorical_missing_and_target(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "age,city,score,label\n"
        "31,北京,1.5,yes\n"
        ",上海,NA,no\n"
        "40,,2.5,yes\n"
        "22,北京,?,\n"
        "50,上海,3.0,no\n",
        encoding="utf-8",
    )
    t = load_csv(path, "label")
    assert t.feature_names == ["age", "city=上海", "city=北京", "score"]
    assert t.class_names == ["no", "yes"] and t.y.tolist() == [1, 0, 1, 0]
    assert t.dropped_rows == [5]  # the row without a label (line 5)
    np.testing.assert_array_equal(np.isnan(t.x[1]), [True, False, False, True])
    np.testing.assert_array_equal(np.isnan(t.x[2]), [False, True, True, False])
    assert t.x[0].tolist() == [31, 0, 1, 1.5]
    with pytest.raises(ValueError, match="Received: target='price'"):
        load_csv(path, "price")
    (tmp_path / "g.csv").write_bytes("a,类别\n1,猫\n2,狗\n".encode("gbk"))
    assert load_csv(tmp_path / "g.csv", "类别").class_names == sorted(["猫", "狗"])


def _table_rows(n=120, junk_line=None, sep=","):
    rows = [sep.join(["x1", "x2", "colour", "label"])]
    for i in range(n):
        x1 = f"{(i * 37) % 101 / 7:.3f}"
        if i + 2 == junk_line:
            x1 = "abc"
        rows.append(sep.join([x1, str(i % 5), "red" if i % 3 else "blue", str(i % 2)]))
    return "\n".join(rows) + "\n"


def test_a_numeric_column_with_one_stray_cell_stays_numeric(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(_table_rows(junk_line=40))
    with pytest.warns(UserWarning) as caught:
        t = load_csv(path, "label")
    (message,) = [str(w.message) for w in caught]
    assert f"{path}:40" in message and "'x1'" in message and "'abc'" in message
    assert t.feature_names == ["x1", "x2", "colour=blue", "colour=red"]
    assert t.column_kinds == {"x1": "numeric", "x2": "numeric", "colour": "categorical"}
    assert t.stray_cells == [{"line": 40, "column": "x1", "value": "abc"}]
    assert np.isnan(t.x[38, 0]) and np.isnan(t.x[:, 0]).sum() == 1
    # A word written for missing in many rows is not a category either.
    rows = ["a,label"] + [
        f"{'unknown' if i % 4 == 0 else i / 3},{i % 2}" for i in range(60)
    ]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="15 cell"):
        u = load_csv(tmp_path / "u.csv", "label")
    assert u.column_kinds == {"a": "numeric"} and np.isnan(u.x[:, 0]).sum() == 15
    # Two typos in twenty rows.
    rows = ["a,label"] + [f"{'x' if i in (3, 9) else i},{i % 2}" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning):
        assert load_csv(tmp_path / "t.csv", "label").column_kinds == {"a": "numeric"}
    # A column that is mostly text is categorical, with no warning.
    rows = ["a,label"] + [
        f"{'v' + str(i % 4) if i % 3 else i},{i % 2}" for i in range(60)
    ]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    assert load_csv(tmp_path / "c.csv", "label").column_kinds == {"a": "categorical"}


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_semicolon_and_tab_separated_files_are_recognised(tmp_path, sep):
    path = tmp_path / "t.csv"
    path.write_text(_table_rows(sep=sep).replace(".", "," if sep == ";" else "."))
    t = load_csv(path, "label")
    assert t.delimiter == sep
    assert t.feature_names == ["x1", "x2", "colour=blue", "colour=red"]
    same = load_csv(path, "label", delimiter=sep)
    np.testing.assert_array_equal(same.x, t.x)


def test_a_continuous_target_is_refused_as_a_classifier(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["x,price"] + [f"{i},{i * 1.37:.2f}" for i in range(50)]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="50 distinct values.*classifier"):
        load_csv(path, "price")
