"""Small example data sets shipped with the engine."""

from pathlib import Path

import numpy as np

__all__ = ["load_lsat7"]

_DATA = Path(__file__).resolve().parent / "data"


def load_lsat7():
    """Return the LSAT section 7 responses (Bock and Lieberman, 1970).

    1,000 examinees answering five items, one row per examinee.

    Returns
    -------
    responses : ndarray of int8, shape (1000, 5)
        0 (wrong) or 1 (right); columns are items 1 to 5.
    """
    return np.loadtxt(_DATA / "lsat7.csv", delimiter=",", skiprows=1, dtype=np.int8)
