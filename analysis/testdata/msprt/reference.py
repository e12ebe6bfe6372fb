# Reference values for analysis.CompareErrorRates, computed independently
# of the closed form in sequential.go: the one-sided mixture likelihood
# ratio by numerical integration over the half-normal mixing distribution
# (scipy.integrate.quad) and the confidence bounds by root finding on it
# (scipy.optimize.brentq). The variance under each null θ₀ is the model's
# definition (the canary's ratio taken as the stable's plus θ₀, plus one
# error's worth), written out again here.
# Run from this directory with Debian's python3-scipy:
#   /usr/bin/python3 reference.py > reference.csv
import math
import sys

import scipy
from scipy import integrate, optimize, stats

cases = [
    # canary requests, errors, stable requests, errors, tolerance, confidence, tau
    (300, 1, 5700, 6, 0.005, 0.99, 0.005),
    (1200, 18, 22800, 23, 0.005, 0.99, 0.005),
    (600, 9, 11400, 11, 0.005, 0.999, 0.005),
    (5000, 60, 5000, 50, 0.0, 0.95, 0.001),
    (100, 0, 1900, 2, 0.005, 0.99, 0.005),
    (20000, 300, 180000, 200, 0.01, 0.999, 0.01),
    (6000, 30, 114000, 114, 0.0, 0.99, 0.001),
    (18000, 36, 342000, 342, 0.0, 0.99, 0.001),
]


def variance(nc, ns, ps, theta0):
    q = min(max(ps + theta0, 0) + 1 / (nc + 2), 1 - 1 / (nc + 2))
    return q * (1 - q) / (nc + 2) + ps * (1 - ps) / (ns + 2)


def log_lr(est, v, theta0, tau, side):
    """log of the integral over δ > 0 of φ(est; θ₀ + side·δ, v)/φ(est; θ₀, v)
    · 2φ(δ; 0, τ²), integrated numerically around the peak of the integrand."""
    d = side * (est - theta0)
    sd = math.sqrt(v)
    h = lambda delta: (stats.norm.logpdf(d, delta, sd) - stats.norm.logpdf(d, 0, sd)
                       + math.log(2) + stats.norm.logpdf(delta, 0, tau))
    peak = max(0.0, tau * tau / (tau * tau + v) * d)
    spread = math.sqrt(tau * tau * v / (tau * tau + v))
    hmax = h(peak)
    val, _ = integrate.quad(lambda x: math.exp(h(x) - hmax), 0, peak + 40 * spread,
                            points=[peak] if peak > 0 else None, limit=500, epsabs=0, epsrel=1e-13)
    return hmax + math.log(val)


print("# scipy %s, python %s" % (scipy.__version__, sys.version.split()[0]))
print("nc,ec,ns,es,tol,conf,tau,estimate,lr_at_tol,lower,upper")
for nc, ec, ns, es, tol, conf, tau in cases:
    est = ec / nc - es / ns
    ps = (es + 1) / (ns + 2)
    alpha = 1 - conf
    lr = math.exp(log_lr(est, variance(nc, ns, ps, tol), tol, tau, 1))
    # The bounds are the θ₀ on either side of est where the one-sided
    # mixture likelihood ratio of θ₀ equals 1/alpha (or ±1 when none).
    g = lambda th0, side: log_lr(est, variance(nc, ns, ps, th0), th0, tau, side) - math.log(1 / alpha)
    lower = -1.0 if g(-1.0, 1) < 0 else optimize.brentq(lambda th: g(th, 1), -1.0, est, xtol=1e-15, rtol=1e-13)
    upper = 1.0 if g(1.0, -1) < 0 else optimize.brentq(lambda th: g(th, -1), est, 1.0, xtol=1e-15, rtol=1e-13)
    print(",".join(repr(x) for x in (nc, ec, ns, es, tol, conf, tau, est, lr, lower, upper)))
