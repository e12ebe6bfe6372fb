# Independent check of reference.csv's normal rows: the upper tail of the
# standard normal at 50 significant digits with mpmath (erfc(z/√2)/2).
# Run from this directory with any python3 that has mpmath:
#   python3 check_mpmath.py
# It prints the largest relative difference from R's values (R 4.2.2:
# 2.2e-16 when recorded).
import csv

import mpmath

mpmath.mp.dps = 50
worst = 0
with open("reference.csv") as f:
    rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
for r in rows:
    if r["kind"] != "normal":
        continue
    z = mpmath.mpf(r["a"])
    exact = mpmath.erfc(z / mpmath.sqrt(2)) / 2
    rel = abs(mpmath.mpf(r["p"]) - exact) / exact
    worst = max(worst, rel)
print("largest relative difference from mpmath: %.2g" % float(worst))
