"""Student's t distribution without scipy: the regularized incomplete beta function.

The old mmtests significance rule (``gormanm/mmtests@93946ac6`` ``Compare.pm``
``_significanceTest``) asks R for ``pt(t, df, lower.tail=FALSE)``.  pcplab computes the same
quantity from the identity  P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2),  where I is the regularized
incomplete beta function, evaluated by its continued fraction (modified Lentz method), with
``math.lgamma`` for the beta prefactor.
"""

from __future__ import annotations

import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 500


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITER + 1):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        # odd step
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta fraction did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1.

    ``y`` may give 1 - x computed without cancellation (callers near x = 1 need it).
    """
    if a <= 0 or b <= 0:
        raise ValueError("betainc needs a > 0 and b > 0")
    if not 0.0 <= x <= 1.0:
        raise ValueError("betainc needs 0 <= x <= 1")
    if y is None:
        y = 1.0 - x
    if x == 0.0 or y == 0.0:
        return 0.0 if x == 0.0 else 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    front = math.exp(log_front)
    # use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges faster
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, y) / b


def _upper_tail_both(df: float, t2: float) -> float:
    """P(|T| >= t) = I_{df/(df+t^2)}(df/2, 1/2), with 1 - x = t^2/(df+t^2) computed directly."""
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def t_sf_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (R: 2*pt(|t|, df, upper))."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isinf(t):
        return 0.0
    return _upper_tail_both(df, t * t)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * t_sf_two_sided(t, df)
    return 1.0 - tail if t >= 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t (R's ``qt(q, df)``), by bisection on :func:`t_cdf`.

    Used for the confidence band of the difference plots (not by mmtests' tables)."""
    if not 0.0 < q < 1.0:
        raise ValueError("t_ppf needs 0 < q < 1")
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0
