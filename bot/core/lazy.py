"""numpy and scipy on first use: the web process imports the solvers' modules (for their data
classes) but only the scheduler's jobs solve anything, so `qmf-bot serve` stays small. Plain
import statements inside functions, named one by one: nothing is looked up by a string."""

from __future__ import annotations

from typing import Any


class _Numpy:
    """``numpy``, imported the first time one of its names is used."""

    def __getattr__(self, attr: str) -> Any:
        import numpy

        return getattr(numpy, attr)


numpy = _Numpy()


def linear_sum_assignment(*args: Any, **kwargs: Any) -> Any:
    from scipy.optimize import linear_sum_assignment as solve

    return solve(*args, **kwargs)


def csr_matrix(*args: Any, **kwargs: Any) -> Any:
    from scipy.sparse import csr_matrix as matrix

    return matrix(*args, **kwargs)


def maximum_bipartite_matching(*args: Any, **kwargs: Any) -> Any:
    from scipy.sparse.csgraph import maximum_bipartite_matching as matching

    return matching(*args, **kwargs)
