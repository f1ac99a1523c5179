"""Validation of response data."""

import numpy as np
import pytest
import scipy.sparse as sp

from calibration.irt import IRTInputError, MarginalMLE, ResponseMatrix


def small(n_persons=12, n_items=3):
    x = np.zeros((n_persons, n_items))
    x[::2] = 1.0
    return x


def test_dense_rejects_values_other_than_0_1_nan():
    x = small()
    x[4, 1] = 2.0
    with pytest.raises(IRTInputError, match=r"0, 1 or nan.*2\.0.*person 4, item 1"):
        ResponseMatrix.from_dense(x)


def test_dense_rejects_item_without_responses():
    x = small()
    x[:, 2] = np.nan
    with pytest.raises(IRTInputError, match="item 2 has no responses"):
        ResponseMatrix.from_dense(x)


def test_dense_rejects_person_without_responses():
    x = small()
    x[7] = np.nan
    with pytest.raises(IRTInputError, match="person 7 has no responses"):
        ResponseMatrix.from_dense(x)


def test_rejects_fewer_than_two_items():
    with pytest.raises(IRTInputError, match="too few items: 1"):
        ResponseMatrix.from_dense(small(n_items=1))


def test_rejects_too_few_persons():
    with pytest.raises(IRTInputError, match="too few persons: 3"):
        ResponseMatrix.from_dense(small(n_persons=3))


def test_rejects_non_2d():
    with pytest.raises(IRTInputError, match="must be 2-D"):
        ResponseMatrix.from_dense(np.zeros(5))


def triplets():
    rows = np.repeat(np.arange(12), 2)
    cols = np.tile([0, 1], 12)
    y = np.tile([1, 0], 12)
    return rows, cols, y


def test_triplets_reject_mismatched_lengths():
    rows, cols, y = triplets()
    with pytest.raises(IRTInputError, match="lengths differ.*24.*23"):
        ResponseMatrix.from_triplets(rows, cols[:-1], y, n_persons=12, n_items=2)


def test_triplets_reject_person_out_of_range():
    rows, cols, y = triplets()
    rows[5] = 12
    with pytest.raises(IRTInputError, match=r"person_idx out of range at position 5"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=12, n_items=2)


def test_triplets_reject_item_out_of_range():
    rows, cols, y = triplets()
    cols[3] = -1
    with pytest.raises(IRTInputError, match=r"item_idx out of range.*-1"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=12, n_items=2)


def test_triplets_reject_duplicates():
    rows, cols, y = triplets()
    rows = np.append(rows, 6)
    cols = np.append(cols, 1)
    y = np.append(y, 1)
    with pytest.raises(IRTInputError, match=r"duplicate.*person 6, item 1"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=12, n_items=2)


def test_triplets_reject_bad_value():
    rows, cols, y = triplets()
    y = y.astype(float)
    y[9] = 0.5
    with pytest.raises(IRTInputError, match=r"0 or 1.*0\.5.*position 9"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=12, n_items=2)


def test_triplets_reject_item_without_responses():
    rows, cols, y = triplets()
    with pytest.raises(IRTInputError, match="item 2 has no responses"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=12, n_items=3)


def test_triplets_reject_person_without_responses():
    rows, cols, y = triplets()
    with pytest.raises(IRTInputError, match="person 12 has no responses"):
        ResponseMatrix.from_triplets(rows, cols, y, n_persons=13, n_items=2)


def test_sparse_explicit_zeros_are_wrong_answers():
    rows, cols, y = triplets()
    matrix = sp.csr_matrix((y.astype(float), (rows, cols)), shape=(12, 2))
    data = ResponseMatrix.from_sparse(matrix)
    assert data.is_sparse
    assert data.n_responses == 24
    np.testing.assert_array_equal(data.item_counts(), [12, 12])
    np.testing.assert_array_equal(data.item_scores(), [12, 0])


def test_sparse_and_dense_storage_agree():
    rng = np.random.default_rng(1)
    x = (rng.random((40, 6)) < 0.6).astype(float)
    x[rng.random((40, 6)) < 0.3] = np.nan
    x[:, 0] = 1.0
    x[0, 0] = 0.0
    dense = ResponseMatrix.from_dense(x)
    rows, cols = np.nonzero(~np.isnan(x))
    sparse = ResponseMatrix.from_triplets(
        rows, cols, x[rows, cols], n_persons=40, n_items=6
    )
    np.testing.assert_array_equal(sparse.to_dense(), dense.to_dense())
    a_dense = MarginalMLE().fit(dense).discrimination_
    a_sparse = MarginalMLE().fit(sparse).discrimination_
    np.testing.assert_allclose(a_dense, a_sparse, rtol=1e-10)


def test_estimator_accepts_scipy_sparse_input():
    rows, cols, y = triplets()
    y = np.where(np.arange(24) % 5 == 0, 1 - y, y)
    matrix = sp.coo_matrix((y.astype(float), (rows, cols)), shape=(12, 2))
    est = MarginalMLE().fit(matrix)
    assert est.ability_.shape == (12,)
