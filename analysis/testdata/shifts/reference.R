# Reference values for analysis.ShiftTest: the signed-rank test on
# per-interval shifts (logarithms of latency ratios), from R's
# wilcox.test (stats package). The shifts are on the grid of 5% latency
# bins (half-multiples of log(1.05)), as histogram data give them; those
# equal to the tolerance carry no sign and are dropped, as R drops exact
# zeros (ShiftTest snaps values within rounding of the tolerance to it).
# Grid data are tied, so R's bounds come from root finding on the normal
# approximation; ShiftTest's are order statistics of the Walsh averages
# (checked against R on untied data in testdata/signedrank), so only the
# p-value and the median of the Walsh averages are compared here.
# p_greater is wilcox.test's p-value; p_corrected the one ShiftTest
# gives, corrected for autocorrelation of the shifts (Hamed and Rao): the
# lag-1 autocorrelation of their ranks (acf), bias-corrected as
# (n·r + 1)/(n − 4) and kept within [0, 0.9] (rho), at least 0.1 (the
# floor ShiftTest assumes), multiplies the variance of the statistic by
# 1 + 2·Σ (1 − k/n)·ρᵏ in the normal approximation with tie and
# continuity corrections.
# Run from this directory with Debian's r-base-core:
#   Rscript reference.R > reference.csv
cat(sprintf("# %s\n", R.version.string))
cat("name,k,tol,conf,p_greater,median_walsh,rho,p_corrected\n")
rho1 <- function(d) {
  n <- length(d)
  if (n < 5) return(0)
  r <- acf(rank(d), lag.max = 1, plot = FALSE)$acf[2]
  min(max((n * r + 1) / (n - 4), 0), 0.9)
}
inflation <- function(rho, n) {
  k <- seq_len(n - 1)
  1 + 2 * sum((1 - k / n) * rho^k)
}
corrected <- function(d, mu, f) {
  x <- d - mu
  x <- x[x != 0]
  n <- length(x)
  r <- rank(abs(x))
  t <- table(r)
  sigma <- sqrt(f * (n * (n + 1) * (2 * n + 1) / 24 - sum(t^3 - t) / 48))
  pnorm((sum(r[x > 0]) - n * (n + 1) / 4 - 0.5) / sigma, lower.tail = FALSE)
}
cases <- list(
  list(name = "healthy", k = c(0, 1, -1, 0.5, 0, -0.5, 2, -1, 0, 1, 0.5, -1.5), tol = 0.05, conf = 0.99),
  list(name = "one-bin", k = c(1, 1, 1, 1.5, 1, 0.5, 1, 1, 2, 1), tol = 0.05, conf = 0.99),
  list(name = "slower", k = c(4, 5, 3.5, 6, 4, 5, 4.5, 3, 5, 4), tol = 0.1, conf = 0.99),
  list(name = "slower-90", k = c(2, 3, 1.5, 2.5, 0, 3, 2, 2.5), tol = 0.05, conf = 0.9),
  list(name = "drifting", k = c(-1, -0.5, 0, 0.5, 1, 2, 2.5, 3, 2.5, 3.5, 3, 4), tol = 0.05, conf = 0.99),
  list(name = "swinging", k = c(2, 2.5, 3, 2, 1, 0, -1, 0, 1, 2.5, 3, 2), tol = 0.05, conf = 0.99)
)
for (c in cases) {
  d <- c$k * log(1.05)
  mu <- log1p(c$tol)
  # Shifts at the tolerance are exactly mu, as ShiftTest snaps them.
  d[abs(d - mu) < 1e-9] <- mu
  g <- suppressWarnings(wilcox.test(d, mu = mu, alternative = "greater"))
  # The estimate: the median of the Walsh averages of the shifts not at
  # the tolerance (R's own estimate with ties comes from root finding).
  kept <- d[d != mu]
  w <- outer(kept, kept, "+") / 2
  rho <- rho1(d)
  pc <- corrected(d, mu, inflation(max(rho, 0.1), length(d)))
  cat(sprintf("%s,%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", c$name, paste(c$k, collapse = " "), c$tol, c$conf,
              g$p.value, expm1(median(w[upper.tri(w, diag = TRUE)])), rho, pc))
}
