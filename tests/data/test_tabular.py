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
