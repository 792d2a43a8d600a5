"""Checks `nnc scale --format json` against independent arithmetic.

Usage: check_scale.py FILE.json MODEL KNOB [--measured]
MODEL: resnet1 (examples/resnet.nn -D channels=1, width knob), lstm
(examples/lstm_rows.nn, hidden knob) or lenet (examples/lenet.nn, classes). Prints one line per check; exits 1 on
the first failure.
"""
import json
import math
import sys


def params(model, v):
    if model == "resnet1":
        # 3x3 convs of the three stages (depth 2): 676 w^2; the stem conv
        # (1 input channel) 9w; batchnorm weight and bias of 35w channels;
        # the classifier 4w x 10 + 10.
        return 676 * v * v + 9 * v + 70 * v + 40 * v + 10
    if model == "lstm":
        # PyTorch's LSTM: 4 gates x (hidden x (28 + hidden) + 2 biases of
        # hidden), then linear(hidden -> 10).
        return 4 * (v * (28 + v) + 2 * v) + 10 * v + 10
    if model == "lenet":
        # conv1 6x1x5x5 + 6, conv2 16x6x5x5 + 16, fc1 400x120 + 120,
        # fc2 120x84 + 84, fc3 84 x classes + classes.
        return 156 + 2416 + 48120 + 10164 + 85 * v
    raise SystemExit("unknown model " + model)


def slope(points):
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def check(ok, msg):
    print(("ok: " if ok else "FAIL: ") + msg)
    if not ok:
        sys.exit(1)


def main():
    path, model, knob = sys.argv[1:4]
    measured = "--measured" in sys.argv
    doc = json.load(open(path))
    variants = doc["variants"]
    for v in variants:
        x = v["values"][knob]
        check(v["parameters"] == params(model, x),
              f"{knob}={x}: parameters {v['parameters']} = formula {params(model, x)}")
        check(v["parameter_bytes"]["f32"] == 4 * v["parameters"],
              f"{knob}={x}: f32 bytes = 4 x parameters")
        m = v["training_memory"]
        parts = sum(m[k] for k in ("weights", "gradients", "optimizer_state", "activations",
                                   "temporaries", "scratch", "io", "results", "fragmentation"))
        check(parts == m["arena"], f"{knob}={x}: the memory parts sum to the arena {m['arena']}")
        if measured:
            check(v["measured_ms"] > 0 and v["predicted_ms"] > 0, f"{knob}={x}: times > 0")
            check(abs(v["error"] - (v["predicted_ms"] / v["measured_ms"] - 1)) < 1e-9,
                  f"{knob}={x}: error = predicted / measured - 1")
    exps = {e["quantity"]: e["exponent"] for e in doc["exponents"] if e["hyperparameter"] == knob}
    series = {
        "params": [(v["values"][knob], v["parameters"]) for v in variants],
        "flops": [(v["values"][knob], v["training_step_flops"]) for v in variants],
        "activations": [(v["values"][knob], v["training_memory"]["activations"]) for v in variants],
        "arena": [(v["values"][knob], v["training_memory"]["arena"]) for v in variants],
    }
    for q, pts in series.items():
        check(abs(exps[q] - slope(pts)) < 1e-9,
              f"{q} exponent {exps[q]:.4f} = the least-squares slope of the table's numbers")
    # The analytic exponent of the parameter formula over the same values.
    analytic = slope([(x, params(model, x)) for x, _ in series["params"]])
    check(abs(exps["params"] - analytic) < 1e-9,
          f"params exponent = the exact analytic exponent of the range {analytic:.4f}")
    if model == "lenet":
        return
    # The leading terms: params and FLOPs grow as knob^2, saved activations
    # as knob^1; within 5%.
    for q, expected in (("params", 2.0), ("flops", 2.0), ("activations", 1.0)):
        check(abs(exps[q] / expected - 1) <= 0.05,
              f"{q} exponent {exps[q]:.3f} within 5% of {expected}")


main()
