# Checks every profile line of `nnc bench --profile`:
#   mean step T ms = library L ms (P%) + generated G ms; C library calls per step (...)
# 0 <= L <= T (library calls run inside the step), L + G = T and P = 100 L / T
# (to the printed rounding). Prints "consistent: <ok> of <lines>".
/mean step/ {
  lines++
  t = $3; l = $7; p = substr($9, 2) + 0; g = $12
  d = t - l - g; if (d < 0) d = -d
  e = p - (t > 0 ? 100 * l / t : 0); if (e < 0) e = -e
  # Each printed time is rounded to 0.0005 ms; P to 0.05.
  tol = t > 0 ? 0.05 + 100 * 0.0005 * (1 / t + l / (t * t)) : 100
  if (l >= 0 && l <= t + 0.0005 && d <= 0.0015 && e <= tol) ok++
  else print "inconsistent: " $0
}
END { print "consistent: " ok + 0 " of " lines + 0 }
