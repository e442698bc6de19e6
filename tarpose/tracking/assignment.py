"""Optimal assignment (the linear sum assignment problem) on a small cost matrix, numpy only.

The tracker matches a frame's boxes to its tracks by solving an assignment problem of a few
rows and columns per frame. ``scipy.optimize.linear_sum_assignment`` solves it, but scipy is not
a core dependency of tarpose, and the tracker runs in the default video path; this is the same
algorithm (shortest augmenting paths with dual variables, Jonker-Volgenant as described by
Crouse, *On implementing 2D rectangular assignment algorithms*, IEEE TAES 2016), vectorised over
the columns. It is exact, ``O(n^2 m)`` for ``n <= m``, and tested equal to scipy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def linear_assignment(cost: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of a cost matrix ``(N, M)``.

    Every row is assigned when ``N <= M``, every column otherwise, each column (row) at most once,
    so that the summed cost of the chosen entries is minimal: the result of
    ``scipy.optimize.linear_sum_assignment(cost)``.

    Args:
        cost: ``(N, M)`` finite real costs.

    Returns:
        The row indices and the column indices, int64 ``(min(N, M),)`` each, rows ascending: the
        pairs are ``(rows[k], cols[k])``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a matrix (N, M), got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost must be finite (give forbidden pairs a large finite cost)")
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    u = np.zeros(n)  # row duals
    v = np.zeros(m)  # column duals
    col_of_row = np.full(n, -1)
    row_of_col = np.full(m, -1)
    for start in range(n):
        shortest = np.full(m, np.inf)  # shortest alternating path cost to each column
        previous = np.full(m, -1)  # the row before each column on that path
        scanned_cols = np.zeros(m, dtype=bool)
        scanned_rows = [start]
        row, reached, sink = start, 0.0, -1
        while sink < 0:
            reduced = reached + cost[row] - u[row] - v  # (m,)
            better = ~scanned_cols & (reduced < shortest)
            previous[better] = row
            shortest[better] = reduced[better]
            open_cols = np.flatnonzero(~scanned_cols)
            lowest = shortest[open_cols].min()
            tied = open_cols[shortest[open_cols] == lowest]
            free = tied[row_of_col[tied] < 0]  # among the cheapest, end the path if possible
            col = int(free[0] if len(free) else tied[0])
            reached = float(shortest[col])
            scanned_cols[col] = True
            if row_of_col[col] < 0:
                sink = col
            else:
                row = int(row_of_col[col])
                scanned_rows.append(row)
        # dual update, then flip the augmenting path
        u[start] += reached
        for r in scanned_rows[1:]:
            u[r] += reached - shortest[col_of_row[r]]
        v[scanned_cols] -= reached - shortest[scanned_cols]
        col = sink
        while True:
            row = int(previous[col])
            row_of_col[col] = row
            col_of_row[row], col = col, col_of_row[row]
            if row == start:
                break
    rows, cols = np.arange(n), col_of_row.astype(np.int64)
    if transposed:
        order = np.argsort(cols)
        rows, cols = cols[order], rows[order]
    return rows.astype(np.int64), cols
