# Reference values for analysis.MannWhitney and MannWhitneyU, from R's
# wilcox.test (stats package). Run from this directory:
#   Rscript reference.R > reference.csv
# R version used: see the header line of reference.csv.
cases <- list(
  list(name = "small", mu = 0, conf = 0.99, log = FALSE),
  list(name = "small", mu = 0.05, conf = 0.95, log = FALSE),
  list(name = "small_shift", mu = 0, conf = 0.99, log = FALSE),
  list(name = "small_shift", mu = log(1.1), conf = 0.99, log = TRUE),
  list(name = "medium", mu = 0, conf = 0.99, log = FALSE),
  list(name = "medium", mu = 20, conf = 0.95, log = FALSE),
  list(name = "ties", mu = 0, conf = 0.99, log = FALSE),
  list(name = "ties", mu = 15, conf = 0.9, log = FALSE),
  list(name = "binned", mu = 0, conf = 0.99, log = FALSE),
  list(name = "binned", mu = log(1.1), conf = 0.999, log = TRUE)
)
cat(sprintf("# %s\n", R.version.string))
cat("name,log,mu,conf,exact,W,p_greater,lower,p_less,upper,p_two,estimate,median_diff\n")
for (k in cases) {
  x <- scan(paste0(k$name, ".x"), quiet = TRUE)
  y <- scan(paste0(k$name, ".y"), quiet = TRUE)
  if (k$log) { x <- log(x); y <- log(y) }
  w <- function(alt) suppressWarnings(wilcox.test(x, y, alternative = alt, mu = k$mu,
                                                  conf.int = TRUE, conf.level = k$conf))
  g <- w("greater"); l <- w("less"); t <- w("two.sided")
  med <- if (length(x) * length(y) <= 1e7) median(outer(x, y, "-")) else NA
  exact <- grepl("exact", g$method)
  cat(sprintf("%s,%s,%.17g,%.17g,%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n",
              k$name, k$log, k$mu, k$conf, exact, g$statistic, g$p.value, g$conf.int[1],
              l$p.value, l$conf.int[2], t$p.value, g$estimate, med))
}
