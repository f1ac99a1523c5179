"""Validated dichotomous response data, stored dense or sparse.

A response matrix has shape ``(n_persons, n_items)``; each cell is 1 (right),
0 (wrong) or missing (not presented or not answered). Two storages exist:

* dense: a float64 array of correct answers with 0 in missing cells, plus a
  float64 mask of answered cells (omitted when every cell is answered);
* sparse: the answered cells as sorted coordinate arrays with their 0/1
  values, plus one CSR matrix (and its transpose) with ``2 * n_items``
  columns: column i holds the right answers to item i and column
  ``n_items + i`` the wrong ones, each stored as 1.

Wrong answers are stored as ones in their own columns, never as stored
zeros: a sparse matrix would lose a stored 0 as soon as any routine
eliminates explicit zeros.

The estimators only need two kinds of operations, both provided here without
densifying sparse data: products of the right/answered cells with
``(n_items, k)`` or ``(n_persons, k)`` blocks (marginal likelihood), and
sums over answered cells of a per-cell quantity (joint likelihood and
diagnostics).
"""

import numpy as np
import scipy.sparse as sp

from .exceptions import IRTInputError

__all__ = ["ResponseMatrix", "MIN_ITEMS", "MIN_PERSONS"]

#: Fewer items leave the ability of each person unidentified.
MIN_ITEMS = 2

#: Each item has two parameters; with fewer than ten persons there is no
#: useful information to separate them, and the calibration is refused.
MIN_PERSONS = 10


def _describe_cell(person, item):
    return f"person {int(person)}, item {int(item)}"


class ResponseMatrix:
    """Dichotomous responses of ``n_persons`` persons to ``n_items`` items.

    Build it with :meth:`from_dense`, :meth:`from_triplets` or
    :meth:`from_sparse`; the constructor is internal. Every constructor
    validates the data and raises :class:`IRTInputError` naming the problem.

    Attributes
    ----------
    n_persons, n_items : int
        Shape of the matrix.
    n_responses : int
        Number of answered cells.
    is_sparse : bool
        Whether the answered cells are stored as coordinates.
    """

    def __init__(self, *, n_persons, n_items, dense=None, rows=None, cols=None, y=None):
        self.n_persons = int(n_persons)
        self.n_items = int(n_items)
        self.is_sparse = dense is None
        if self.is_sparse:
            self._init_sparse(rows, cols, y)
        else:
            self._init_dense(dense)
        self._validate_coverage()

    # -- construction -----------------------------------------------------

    @classmethod
    def from_dense(cls, responses):
        """Validate a dense array of responses.

        Parameters
        ----------
        responses : array_like, shape (n_persons, n_items)
            Values 0 and 1, with ``np.nan`` for a missing response.

        Returns
        -------
        ResponseMatrix
        """
        array = np.asarray(responses)
        if array.ndim != 2:
            raise IRTInputError(
                f"responses must be 2-D (n_persons, n_items); got shape {array.shape!r}"
            )
        if array.dtype == bool:
            array = array.astype(np.float64)
        if not (
            np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.floating)
        ):
            raise IRTInputError(
                f"responses must be numeric 0/1 with nan for missing; got dtype "
                f"{array.dtype!r}"
            )
        return cls(n_persons=array.shape[0], n_items=array.shape[1], dense=array)

    @classmethod
    def from_triplets(cls, person_idx, item_idx, correct, *, n_persons, n_items):
        """Validate answered cells given as coordinates.

        Parameters
        ----------
        person_idx, item_idx : array_like of int, shape (n_responses,)
            Row and column of each answered cell.
        correct : array_like, shape (n_responses,)
            1 for a right answer, 0 for a wrong one.
        n_persons, n_items : int
            Shape of the full matrix; persons and items without any answered
            cell are an error, not silently dropped.

        Returns
        -------
        ResponseMatrix

        Raises
        ------
        IRTInputError
            On mismatched lengths, indices out of range, values other than
            0 and 1, or a (person, item) pair given twice.
        """
        person_idx = np.asarray(person_idx)
        item_idx = np.asarray(item_idx)
        correct = np.asarray(correct)
        lengths = {len(person_idx), len(item_idx), len(correct)}
        if person_idx.ndim != 1 or item_idx.ndim != 1 or correct.ndim != 1:
            raise IRTInputError("person_idx, item_idx and correct must be 1-D arrays")
        if len(lengths) != 1:
            raise IRTInputError(
                f"triplet lengths differ: person_idx has {len(person_idx)}, "
                f"item_idx {len(item_idx)}, correct {len(correct)} entries"
            )
        for name, idx in (("person_idx", person_idx), ("item_idx", item_idx)):
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                if not np.all(np.mod(idx, 1) == 0):
                    raise IRTInputError(f"{name} must hold integers")
        n_persons = int(n_persons)
        n_items = int(n_items)
        rows = person_idx.astype(np.int64)
        cols = item_idx.astype(np.int64)
        for name, idx, limit in (
            ("person_idx", rows, n_persons),
            ("item_idx", cols, n_items),
        ):
            bad = np.flatnonzero((idx < 0) | (idx >= limit))
            if bad.size:
                raise IRTInputError(
                    f"{name} out of range at position {bad[0]}: value "
                    f"{int(idx[bad[0]])} not in [0, {limit})"
                )
        y = np.asarray(correct, dtype=np.float64)
        bad = np.flatnonzero((y != 0) & (y != 1))
        if bad.size:
            raise IRTInputError(
                f"correct must be 0 or 1; got {correct[bad[0]]!r} at position "
                f"{bad[0]} ({_describe_cell(rows[bad[0]], cols[bad[0]])})"
            )
        return cls(n_persons=n_persons, n_items=n_items, rows=rows, cols=cols, y=y)

    @classmethod
    def from_sparse(cls, matrix):
        """Validate a scipy.sparse matrix of answered cells.

        Parameters
        ----------
        matrix : scipy.sparse matrix or array, shape (n_persons, n_items)
            Every *stored* entry is an answered cell and its value is 1 or 0.
            A stored (explicit) zero means "answered wrong"; a cell that is
            not stored is missing. Beware that sparse arithmetic and
            ``eliminate_zeros`` drop explicit zeros, which would turn wrong
            answers into missing ones: build the matrix directly from
            coordinates, or use :meth:`from_triplets`.

        Returns
        -------
        ResponseMatrix
        """
        coo = sp.coo_matrix(matrix)
        return cls.from_triplets(
            coo.row, coo.col, coo.data, n_persons=coo.shape[0], n_items=coo.shape[1]
        )

    @classmethod
    def coerce(cls, data):
        """Return ``data`` as a ResponseMatrix (dense array, sparse or as is)."""
        if isinstance(data, cls):
            return data
        if sp.issparse(data):
            return cls.from_sparse(data)
        return cls.from_dense(data)

    def _init_dense(self, array):
        # Check values before converting so the message can name the cell.
        if np.issubdtype(array.dtype, np.floating):
            answered = ~np.isnan(array)
            bad = answered & (array != 0) & (array != 1)
        else:
            answered = None
            bad = (array != 0) & (array != 1)
        if bad.any():
            person, item = np.argwhere(bad)[0]
            raise IRTInputError(
                f"responses must be 0, 1 or nan (missing); got "
                f"{array[person, item]!r} at {_describe_cell(person, item)}"
            )
        if answered is None or answered.all():
            # Complete float64 data is used in place: on a 100,000 x 200 bank
            # a copy costs 160 MB. The caller must not modify it during a fit.
            y = np.asarray(array, dtype=np.float64)
            self._mask = None
        else:
            y = np.array(array, dtype=np.float64)
            y[~answered] = 0.0
            self._mask = answered.astype(np.float64)
        self._y = y

    def _init_sparse(self, rows, cols, y):
        # Sort row-major; the sorted keys also reveal duplicate pairs.
        keys = rows * self.n_items + cols
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        dup = np.flatnonzero(keys[1:] == keys[:-1])
        if dup.size:
            key = keys[dup[0]]
            raise IRTInputError(
                f"duplicate response for ({_describe_cell(*divmod(key, self.n_items))})"
                f"; give each (person, item) pair once"
            )
        index_type = np.int32 if max(self.n_persons, self.n_items) < 2**31 else None
        self._rows = rows[order].astype(index_type or np.int64)
        self._cols = cols[order].astype(index_type or np.int64)
        self._y = np.ascontiguousarray(y[order], dtype=np.float64)
        indptr = np.zeros(self.n_persons + 1, dtype=np.int64)
        np.cumsum(np.bincount(self._rows, minlength=self.n_persons), out=indptr[1:])
        # One matrix for both kinds of answer: column i holds the right
        # answers to item i, column n_items + i the wrong ones. The marginal
        # likelihood then needs one sparse product per direction, each over
        # every answered cell once, instead of a product with the correct
        # answers plus one with all answered cells (1.5 times the work and
        # twice the index memory).
        split_cols = self._cols + np.where(self._y == 1, 0, self.n_items).astype(
            self._cols.dtype
        )
        self._split_csr = sp.csr_matrix(
            (np.ones(len(self._y)), split_cols, indptr),
            shape=(self.n_persons, 2 * self.n_items),
        )
        # The transposed copy makes the item-side product row-major as well.
        self._split_csr_t = self._split_csr.T.tocsr()

    def _validate_coverage(self):
        if self.n_items < MIN_ITEMS:
            raise IRTInputError(
                f"too few items: {self.n_items} (at least {MIN_ITEMS} are needed "
                f"to identify the model)"
            )
        if self.n_persons < MIN_PERSONS:
            raise IRTInputError(
                f"too few persons: {self.n_persons} (at least {MIN_PERSONS} are "
                f"needed to identify the model)"
            )
        item_counts = self.item_counts()
        empty = np.flatnonzero(item_counts == 0)
        if empty.size:
            raise IRTInputError(
                f"item {empty[0]} has no responses ({empty.size} such items); "
                f"drop it before calibrating"
            )
        person_counts = self.person_counts()
        empty = np.flatnonzero(person_counts == 0)
        if empty.size:
            raise IRTInputError(
                f"person {empty[0]} has no responses ({empty.size} such persons); "
                f"drop them before calibrating"
            )

    # -- description ------------------------------------------------------

    @property
    def shape(self):
        """Tuple ``(n_persons, n_items)``."""
        return (self.n_persons, self.n_items)

    @property
    def n_responses(self):
        """Number of answered cells."""
        if self.is_sparse:
            return len(self._y)
        if self._mask is None:
            return self.n_persons * self.n_items
        return int(self._mask.sum())

    @property
    def is_complete(self):
        """Whether every cell is answered."""
        return self.n_responses == self.n_persons * self.n_items

    def __repr__(self):
        storage = "sparse" if self.is_sparse else "dense"
        return (
            f"ResponseMatrix({self.n_persons} persons x {self.n_items} items, "
            f"{self.n_responses} responses, {storage})"
        )

    def item_counts(self):
        """Return the number of responses per item, shape (n_items,)."""
        return self.sum_over_persons(1.0)

    def person_counts(self):
        """Return the number of responses per person, shape (n_persons,)."""
        return self.sum_over_items(1.0)

    def item_scores(self):
        """Return the number of correct answers per item, shape (n_items,)."""
        return self.sum_over_persons(self.cell_y())

    def person_scores(self):
        """Return the raw score of each person, shape (n_persons,)."""
        return self.sum_over_items(self.cell_y())

    def to_dense(self):
        """Return a float array with nan for missing cells (small data only)."""
        if self.is_sparse:
            out = np.full(self.shape, np.nan)
            out[self._rows, self._cols] = self._y
            return out
        out = self._y.copy()
        if self._mask is not None:
            out[self._mask == 0] = np.nan
        return out

    def row_blocks(self, block_rows=10_000):
        """Yield ``(rows, view)`` pairs covering the persons in order.

        Dense storage is cut into views of ``block_rows`` persons (no copy),
        so per-cell temporaries stay at ``block_rows * n_items`` floats; sparse
        storage is yielded whole, its cell arrays being already compact.
        """
        if self.is_sparse or self.n_persons <= block_rows:
            yield slice(0, self.n_persons), self
            return
        for start in range(0, self.n_persons, block_rows):
            rows = slice(start, min(start + block_rows, self.n_persons))
            view = object.__new__(type(self))
            view.n_persons = rows.stop - rows.start
            view.n_items = self.n_items
            view.is_sparse = False
            view._y = self._y[rows]
            view._mask = None if self._mask is None else self._mask[rows]
            yield rows, view

    # -- per-cell operations (joint likelihood, diagnostics) ----------------
    #
    # A "cell array" is a 2-D (n_persons, n_items) array for dense storage and
    # a 1-D (n_responses,) array for sparse storage. Quantities at missing
    # cells of dense storage are computed but masked out of every sum.

    def cell_y(self):
        """Return the observed 0/1 responses as a cell array."""
        return self._y

    def cell_person(self, values):
        """Broadcast a (n_persons,) vector to the cells."""
        values = np.asarray(values, dtype=np.float64)
        return values[self._rows] if self.is_sparse else values[:, None]

    def cell_item(self, values):
        """Broadcast a (n_items,) vector to the cells."""
        values = np.asarray(values, dtype=np.float64)
        return values[self._cols] if self.is_sparse else values[None, :]

    def sum_over_items(self, cells):
        """Sum a cell array over each person's answered items -> (n_persons,)."""
        if self.is_sparse:
            weights = np.broadcast_to(cells, self._y.shape)
            return np.bincount(self._rows, weights, minlength=self.n_persons)
        cells = np.broadcast_to(cells, self._y.shape)
        if self._mask is None:
            return cells.sum(axis=1)
        return np.einsum("pi,pi->p", cells, self._mask)

    def sum_over_persons(self, cells):
        """Sum a cell array over each item's respondents -> (n_items,)."""
        if self.is_sparse:
            weights = np.broadcast_to(cells, self._y.shape)
            return np.bincount(self._cols, weights, minlength=self.n_items)
        cells = np.broadcast_to(cells, self._y.shape)
        if self._mask is None:
            return cells.sum(axis=0)
        return np.einsum("pi,pi->i", cells, self._mask)

    # -- matrix products (marginal likelihood) -----------------------------

    def loglik_dot(self, log_p, log_q):
        """Return ``Y @ log_p + (M - Y) @ log_q`` -> (n_persons, k).

        ``Y`` holds the right answers and ``M`` the answered cells, so row p
        is the log-likelihood of person p's answers at each of ``k`` points,
        given the ``(n_items, k)`` tables of ``log P`` and ``log (1 - P)``.
        """
        if self.is_sparse:
            return self._split_csr @ np.vstack([log_p, log_q])
        out = self._y @ (log_p - log_q)
        if self._mask is None:
            out += log_q.sum(axis=0)
        else:
            out += self._mask @ log_q
        return out

    def count_tdot(self, block):
        """Return ``(Y.T @ block, M.T @ block)``, each (n_items, k).

        For a posterior over ``k`` nodes these are the expected numbers of
        right answers and of answers to each item at each node.
        """
        if self.is_sparse:
            both = self._split_csr_t @ block
            right = both[: self.n_items]
            return right, right + both[self.n_items :]
        right = self._y.T @ block
        if self._mask is None:
            shape = (self.n_items, block.shape[1])
            return right, np.broadcast_to(block.sum(axis=0), shape)
        return right, self._mask.T @ block
