# Reference values for analysis.SignedRank and SignedRankRelative, from R's
# wilcox.test(paired = TRUE) (stats package). Run from this directory:
#   Rscript reference.R > reference.csv
cases <- list(
  list(name = "ten", mu = 0, conf = 0.99, log = TRUE),
  list(name = "ten_slow", mu = log(1.2), conf = 0.99, log = TRUE),
  list(name = "thirty", mu = log(1.05), conf = 0.95, log = TRUE),
  list(name = "rounded", mu = 0, conf = 0.99, log = FALSE),
  list(name = "rounded", mu = 0.01, conf = 0.9, log = FALSE),
  list(name = "large", mu = log(1.1), conf = 0.999, log = TRUE)
)
cat(sprintf("# %s\n", R.version.string))
cat("name,log,mu,conf,exact,V,p_greater,lower,upper,estimate,median_walsh\n")
for (k in cases) {
  x <- scan(paste0(k$name, ".canary"), quiet = TRUE)
  y <- scan(paste0(k$name, ".stable"), quiet = TRUE)
  if (k$log) { x <- log(x); y <- log(y) }
  w <- function(alt) suppressWarnings(wilcox.test(x, y, paired = TRUE, alternative = alt, mu = k$mu,
                                                  conf.int = TRUE, conf.level = k$conf))
  g <- w("greater"); l <- w("less")
  d <- x - y
  walsh <- outer(d, d, "+") / 2
  mw <- median(walsh[upper.tri(walsh, diag = TRUE)])
  exact <- grepl("exact", g$method)
  cat(sprintf("%s,%s,%.17g,%.17g,%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n",
              k$name, k$log, k$mu, k$conf, exact, g$statistic, g$p.value, g$conf.int[1],
              l$conf.int[2], g$estimate, mw))
}
