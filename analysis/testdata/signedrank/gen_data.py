# Writes the fixed paired data sets of the signed-rank reference tests:
# per-interval latency quantiles of a canary and a stable that share
# per-interval noise. Run from this directory: python3 gen_data.py
import math
import random

rng = random.Random(20250815)


def pairs(n, shift, shared, own, base=0.45, digits=None):
    c, s = [], []
    for _ in range(n):
        common = math.exp(rng.gauss(0, shared))
        cv = base * common * shift * math.exp(rng.gauss(0, own))
        sv = base * common * math.exp(rng.gauss(0, own))
        if digits is not None:
            cv, sv = round(cv, digits), round(sv, digits)
        c.append(cv)
        s.append(sv)
    return c, s


cases = {
    "ten": pairs(10, 1.0, 0.15, 0.05),
    "ten_slow": pairs(10, 1.3, 0.15, 0.05),
    "thirty": pairs(30, 1.1, 0.2, 0.08),
    "rounded": pairs(40, 1.05, 0.2, 0.05, digits=2),
    "large": pairs(80, 1.2, 0.1, 0.1),
}
for name, (c, s) in cases.items():
    with open(name + ".canary", "w") as f:
        f.write("\n".join(repr(v) for v in c) + "\n")
    with open(name + ".stable", "w") as f:
        f.write("\n".join(repr(v) for v in s) + "\n")
