# Prints "<entry> sites <n>": the library calls (runtime/Profile.h: GEMM,
# linear, conv2d, recurrent layers; not their *_bytes size queries) in the
# body of @nnc_<entry> of `nnc compile --emit=buffers` output.
# Usage: awk -f library_sites.awk -v entry=train_step file.mlir
/func\.func / { inside = index($0, "@nnc_" entry "(") > 0; next }
inside && /call @nnc_(gemm|linear|conv2d|rnn|lstm|gru)[a-z0-9_]*\(/ && !/_bytes\(/ { n++ }
END { print entry " sites " n + 0 }
