# Reference values for the tails of the normal approximations: the
# standard normal's upper tail (analysis.NormalSurvival) and the p-values
# of the rank tests far in their tails (analysis.MannWhitneyU,
# analysis.SignedRank), from R's pnorm(lower.tail = FALSE) and wilcox.test
# (stats package), down to 1e-300. The data are built by formula (the Go
# test builds the same): Mann-Whitney x = (1:n) + shift, y = (1:m) + 0.5;
# signed rank d = (1:n) − neg − 0.25 (the neg smallest are negative).
# Run from this directory with Debian's r-base-core:
#   Rscript reference.R > reference.csv
cat(sprintf("# %s\n", R.version.string))
cat("kind,a,b,c,p\n")
for (z in c(0.5, 1, 2, 3, 5, 6, 8, 10, 12, 15, 20, 25, 30, 35, 37, 37.5)) {
  cat(sprintf("normal,%.17g,0,0,%.17g\n", z, pnorm(z, lower.tail = FALSE)))
}
for (k in list(c(60, 80, 10), c(200, 300, 150), c(400, 400, 380), c(600, 500, 600), c(900, 900, 900), c(930, 920, 930))) {
  n <- k[1]; m <- k[2]; shift <- k[3]
  x <- (1:n) + shift; y <- (1:m) + 0.5
  p <- wilcox.test(x, y, alternative = "greater", exact = FALSE)$p.value
  cat(sprintf("mannwhitney,%d,%d,%d,%.17g\n", n, m, shift, p))
}
for (k in list(c(60, 5), c(300, 20), c(900, 0), c(1500, 10), c(1830, 0), c(1850, 3))) {
  n <- k[1]; neg <- k[2]
  d <- (1:n) - neg - 0.25
  p <- wilcox.test(d, alternative = "greater", exact = FALSE)$p.value
  cat(sprintf("signedrank,%d,%d,0,%.17g\n", n, neg, p))
}
