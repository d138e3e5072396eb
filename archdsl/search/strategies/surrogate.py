"""A Gaussian-process surrogate over assignments, for model-based strategies.

Inputs are assignments compared by Hamming distance (how many decisions differ); the kernel is
exp(-distance / lengthscale), positive definite on categorical vectors. Rewards are rank-transformed to
normal scores before fitting (a Gaussian copula, as in Salinas et al. 2020): a few failed or chance-level
networks then cannot flatten the model. The lengthscale and the noise are chosen by the marginal likelihood
over a small grid, so nothing depends on the scale of the reward or on the space.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from scipy.linalg import cho_solve

LENGTHSCALES = (0.5, 1.0, 2.0, 4.0, 8.0)  # in decisions: from "one change decorrelates" to "smooth"
NOISES = (1e-4, 1e-2, 0.1, 0.3)  # as a fraction of the (unit) signal variance
_NORMAL = NormalDist()


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Ranks mapped to standard-normal quantiles; ties share their mean rank."""
    n = len(y)
    order = np.argsort(y, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n)
    for v in np.unique(y):  # ties: the mean of their ranks
        same = y == v
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return np.array([_NORMAL.inv_cdf((r + 0.5) / n) for r in ranks])


class HammingGP:
    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X = np.asarray(X, dtype=np.int64)
        z = normal_scores(np.asarray(y, dtype=float))
        self.mean = float(z.mean())
        self.z = z - self.mean
        d = self.distances(self.X)
        best = None
        for ell in LENGTHSCALES:
            k = np.exp(-d / ell)
            for noise in NOISES:
                fit = self._fit(k, noise)
                if fit is not None and (best is None or fit[0] > best[0]):
                    best = (fit[0], ell, noise, fit[1], fit[2])
        _, self.lengthscale, self.noise, self.chol, self.alpha = best

    def _fit(self, k: np.ndarray, noise: float):
        try:
            chol = np.linalg.cholesky(k + noise * np.eye(len(k)))
        except np.linalg.LinAlgError:
            return None
        alpha = cho_solve((chol, True), self.z)
        loglik = -0.5 * self.z @ alpha - np.log(np.diag(chol)).sum()
        return loglik, chol, alpha

    def distances(self, A: np.ndarray) -> np.ndarray:
        return (np.asarray(A)[:, None, :] != self.X[None, :, :]).sum(-1).astype(float)

    def predict(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (in normal-score units) at each row of `A`."""
        k = np.exp(-self.distances(A) / self.lengthscale)
        mu = k @ self.alpha + self.mean
        v = np.linalg.solve(self.chol, np.ascontiguousarray(k.T))
        var = np.clip(1.0 - (v * v).sum(0), 1e-12, None)
        return mu, np.sqrt(var)

    def best_score(self) -> float:
        return float((self.z + self.mean).max())


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float) -> np.ndarray:
    z = (mu - best) / sigma
    cdf = np.array([0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) for x in z])
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return (mu - best) * cdf + sigma * pdf
