# Reference values for analysis.CompareErrorRates, computed independently
# of the closed forms in sequential.go: the mixture likelihood ratio by
# numerical integration over the mixing distribution (scipy.integrate.quad)
# and the confidence bounds by root finding on it (scipy.optimize.brentq).
# Run from this directory with Debian's python3-scipy:
#   /usr/bin/python3 reference.py > reference.csv
import math
import sys

import scipy
from scipy import integrate, optimize, stats

cases = [
    # canary requests, errors, stable requests, errors, tolerance, confidence, tau
    (300, 1, 5700, 6, 0.005, 0.99, 0.01),
    (1200, 18, 22800, 23, 0.005, 0.99, 0.01),
    (600, 9, 11400, 11, 0.005, 0.999, 0.01),
    (5000, 60, 5000, 50, 0.0, 0.95, 0.005),
    (100, 0, 1900, 2, 0.005, 0.99, 0.01),
    (20000, 300, 180000, 200, 0.01, 0.999, 0.02),
]


def variance(nc, ec, ns, es):
    pc = (ec + 1) / (nc + 2)
    ps = (es + 1) / (ns + 2)
    return pc * (1 - pc) / (nc + 2) + ps * (1 - ps) / (ns + 2)


def log_mixture_lr(est, v, theta0, tau):
    """log of the integral over θ of φ(est; θ, v)/φ(est; θ₀, v)·φ(θ; θ₀, τ²),
    integrated numerically around the peak of the integrand."""
    sd = math.sqrt(v)
    h = lambda th: (stats.norm.logpdf(est, th, sd) - stats.norm.logpdf(est, theta0, sd)
                    + stats.norm.logpdf(th, theta0, tau))
    # The integrand is largest at the posterior mean of θ.
    peak = theta0 + tau * tau / (tau * tau + v) * (est - theta0)
    spread = math.sqrt(tau * tau * v / (tau * tau + v))
    hmax = h(peak)
    val, _ = integrate.quad(lambda th: math.exp(h(th) - hmax), peak - 40 * spread, peak + 40 * spread,
                            points=[peak], limit=500, epsabs=0, epsrel=1e-13)
    return hmax + math.log(val)


print("# scipy %s, python %s" % (scipy.__version__, sys.version.split()[0]))
print("nc,ec,ns,es,tol,conf,tau,estimate,lr_at_tol,lower,upper")
for nc, ec, ns, es, tol, conf, tau in cases:
    est = ec / nc - es / ns
    v = variance(nc, ec, ns, es)
    alpha = 1 - conf
    lr = math.exp(log_mixture_lr(est, v, tol, tau))
    # The bounds are the θ₀ on either side of est where the mixture
    # likelihood ratio of θ₀ equals 1/alpha.
    g = lambda th0: log_mixture_lr(est, v, th0, tau) - math.log(1 / alpha)
    width = math.sqrt(v)
    while g(est + width) < 0 or g(est - width) < 0:
        width *= 2
    lower = optimize.brentq(g, est - width, est, xtol=1e-15, rtol=1e-13)
    upper = optimize.brentq(g, est, est + width, xtol=1e-15, rtol=1e-13)
    print(",".join(repr(x) for x in (nc, ec, ns, es, tol, conf, tau, est, lr, lower, upper)))
