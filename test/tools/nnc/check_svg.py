"""Checks an SVG chart written by nnc plot.

check_svg.py FILE CLASS=POINTS...
The file must be well-formed XML with an <svg> root, a title, a legend and
tick labels; for each CLASS=POINTS, the polyline of that class must have
exactly POINTS points, all inside the drawing.
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == NS + "svg", root.tag
width, height = float(root.get("width")), float(root.get("height"))
texts = [t.text or "" for t in root.iter(NS + "text")]
assert any(t.startswith("nnc training") for t in texts), texts
assert "global step" in texts and "loss" in texts, texts
assert root.find(f".//{NS}g[@class='legend']") is not None, "no legend"
ticks = root.find(f".//{NS}g[@class='ticks']")
assert ticks is not None and len(list(ticks)) >= 6, "too few tick labels"
lines = {p.get("class"): p for p in root.iter(NS + "polyline")}
for spec in sys.argv[2:]:
    cls, count = spec.split("=")
    assert cls in lines, f"no polyline '{cls}' (have {list(lines)})"
    points = [tuple(map(float, p.split(","))) for p in lines[cls].get("points").split()]
    assert len(points) == int(count), f"{cls}: {len(points)} points, expected {count}"
    assert all(0 <= x <= width and 0 <= y <= height for x, y in points), points
    print(f"{cls}: {len(points)} points")
print("svg ok")
