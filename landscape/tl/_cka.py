"""Linear centred kernel alignment (CKA, Kornblith et al. 2019), plain numpy.

For representations ``X (n, p)`` and ``Y (n, q)`` of the same ``n`` examples, with columns
centred, ``CKA = ||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F)``. In the Gram form used here
(``K = Xc Xcᵀ``, an ``n × n`` matrix whatever the width), ``CKA = <K, L>_F / (||K||_F ||L||_F)``,
so many representations are compared at once by one product of their flattened Grams. CKA is
1 for identical representations and invariant to orthogonal transforms and isotropic scaling
of either; it is not invariant to anisotropic scaling of features. This is the biased (plug-in)
HSIC estimator, the one of the paper; compare representations on the same examples.
"""

from __future__ import annotations

import numpy as np


def centred_gram(x: np.ndarray) -> np.ndarray:
    """``Xc Xcᵀ`` of ``x (n, p)`` with every column centred (float64)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    xc = x - x.mean(axis=0, keepdims=True)
    return xc @ xc.T


def cka_from_grams(grams: np.ndarray) -> np.ndarray:
    """Pairwise CKA ``(M, M)`` of ``M`` centred Gram matrices ``(M, n, n)``.

    A constant representation (zero Gram) has no defined CKA: NaN in its row and column.
    """
    flat = np.asarray(grams, dtype=np.float64).reshape(len(grams), -1)
    return cka_from_products(flat @ flat.T)


def cka_from_products(products: np.ndarray) -> np.ndarray:
    """CKA from the matrix of Gram inner products ``<K_i, K_j>_F`` ``(M, M)``."""
    norms = np.sqrt(np.clip(np.diag(products), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = products / np.outer(norms, norms)
    out[(norms == 0)[:, None] | (norms == 0)[None]] = np.nan
    return out


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same examples (rows)."""
    if len(x) != len(y):
        raise ValueError(f"representations of {len(x)} and {len(y)} examples")
    return float(cka_from_grams(np.stack([centred_gram(x), centred_gram(y)]))[0, 1])
