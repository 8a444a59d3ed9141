"""The CSV writer the MERSCOPE and CosMx folders share: rounding and quoting."""

from __future__ import annotations

import numpy as np
import pandas as pd

from STpuppeteer.io.tables import PIXEL_DECIMALS, UM_DECIMALS, write_csv


def test_floats_are_rounded_per_column_and_strings_unquoted(tmp_path):
    frame = pd.DataFrame({"x_um": [1.23456789, 1000.0004999], "x_px": [10.126, 3.0], "gene": ["a", "b"]})
    path = tmp_path / "t.csv"
    write_csv(frame, path, decimals_by_column={"x_px": PIXEL_DECIMALS})
    assert path.read_text().splitlines()[1:] == ["1.23,10.13,a", "1000,3,b"]
    back = pd.read_csv(path)
    np.testing.assert_allclose(back["x_um"], frame["x_um"], atol=0.5 * 10.0**-UM_DECIMALS)
    np.testing.assert_allclose(back["x_px"], frame["x_px"], atol=0.5 * 10.0**-PIXEL_DECIMALS)


def test_strings_holding_a_comma_or_quote_are_quoted(tmp_path):
    frame = pd.DataFrame({"gene": pd.Categorical(["HLA-A,B", 'say "hi"', "plain"]), "n": [1, 2, 3]})
    path = tmp_path / "t.csv"
    write_csv(frame, path, index_label="")
    back = pd.read_csv(path, index_col=0)
    assert back["gene"].tolist() == ["HLA-A,B", 'say "hi"', "plain"]
    assert back["n"].tolist() == [1, 2, 3]
