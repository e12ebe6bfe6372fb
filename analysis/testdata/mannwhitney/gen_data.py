# Writes the fixed data sets of the Mann-Whitney reference tests.
# Run from this directory: python3 gen_data.py
# The data are committed; this script only documents where they came from.
import math
import random

rng = random.Random(20250814)


def lognormal(n, median, sigma):
    return [median * math.exp(rng.gauss(0, sigma)) for _ in range(n)]


def write(name, xs):
    with open(name, "w") as f:
        f.write("\n".join(repr(v) for v in xs) + "\n")


cases = {
    # small, distinct: R uses the exact distribution
    "small": (lognormal(8, 0.45, 0.3), lognormal(10, 0.40, 0.3)),
    # small with a clear shift
    "small_shift": (lognormal(12, 0.60, 0.2), lognormal(11, 0.40, 0.2)),
    # medium, distinct, in milliseconds: normal approximation
    "medium": (lognormal(60, 480, 0.4), lognormal(80, 450, 0.4)),
    # rounded to 10ms: many ties
    "ties": ([round(v, -1) for v in lognormal(40, 300, 0.5)],
             [round(v, -1) for v in lognormal(45, 250, 0.5)]),
    # per-request latencies binned on a 5% log grid (a histogram)
    "binned": ([round(1.05 ** round(math.log(v, 1.05)), 6) for v in lognormal(1500, 200, 0.5)],
               [round(1.05 ** round(math.log(v, 1.05)), 6) for v in lognormal(2500, 190, 0.5)]),
}
for name, (x, y) in cases.items():
    write(name + ".x", x)
    write(name + ".y", y)
