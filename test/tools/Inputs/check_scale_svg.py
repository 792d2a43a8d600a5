"""Checks an `nnc scale --svg` chart against the JSON of the same run.

Usage: check_scale_svg.py FILE.svg FILE.json KNOB
The SVG parses as XML, has one polyline per quantity with one point per
variant, each normalized line starts at the same point (1x), the slope of
each line in SVG units matches the exponent, and the legend states the
exponents of the JSON.
"""
import json
import math
import re
import sys
import xml.etree.ElementTree as ET


def check(ok, msg):
    print(("ok: " if ok else "FAIL: ") + msg)
    if not ok:
        sys.exit(1)


svg_path, json_path, knob = sys.argv[1:4]
root = ET.parse(svg_path).getroot()
ns = {"s": "http://www.w3.org/2000/svg"}
doc = json.load(open(json_path))
exps = {e["quantity"]: e["exponent"] for e in doc["exponents"] if e["hyperparameter"] == knob}
lines = root.findall(".//s:g[@class='lines']/s:polyline", ns)
check(len(lines) == len(exps), f"{len(lines)} lines, one per quantity of the JSON")
n = len(doc["variants"])
starts = set()
slopes = {}
for line in lines:
    pts = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    check(len(pts) == n, f"{line.get('class')}: {n} points")
    starts.add(pts[0])
    slopes[line.get("class")] = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
check(len(starts) == 1, "every line starts at 1x of the first variant")
# Log-log: a line's SVG slope is its exponent times the ratio of the axes'
# scales; the ratio of two lines' slopes is the ratio of their end-to-end
# exponents (the fitted ones on exact power laws).
ratio = slopes["params"] / slopes["activations"]
ends = {q: [v for v in doc["variants"]] for q in ("params",)}
first, last = doc["variants"][0], doc["variants"][-1]
dx = math.log(last["values"][knob] / first["values"][knob])
ep = math.log(last["parameters"] / first["parameters"]) / dx
ea = math.log(last["training_memory"]["activations"] / first["training_memory"]["activations"]) / dx
check(abs(ratio - ep / ea) < 0.02 * ep / ea, f"params/activations slope ratio {ratio:.3f} = {ep / ea:.3f}")
legend = "".join(t.text or "" for t in root.findall(".//s:g[@class='legend']/s:text", ns))
for q, e in exps.items():
    text = f"{q} \u221d {knob}^{e:.2f}"
    check(text in legend, f"legend {text} = the table's exponent")
