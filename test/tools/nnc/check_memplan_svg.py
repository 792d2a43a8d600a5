"""Checks an SVG chart written by nnc memplan --svg against the plan's JSON.

check_memplan_svg.py PLAN.svg PLAN.json
The file must be well-formed XML with an <svg> root, a title, a legend, the
lower-bound and planned lines, the persistent regions' band, and exactly one
<rect class="buffer"> per buffer of the drawn entry (the largest in the
JSON), each inside the drawing with a tooltip naming its index, kind and
layer; a buffer that overwrites another in place is drawn outlined.
"""
import json
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
plan = json.load(open(sys.argv[2]))
entry = max(plan["entries"], key=lambda e: e["planned"])
assert root.tag == NS + "svg", root.tag
width, height = float(root.get("width")), float(root.get("height"))
texts = [t.text or "" for t in root.iter(NS + "text")]
assert any(t.startswith("nnc memplan: ") and entry["entry"] in t for t in texts), texts[:3]
assert root.find(f".//{NS}g[@class='legend']") is not None, "no legend"
for cls in ("lower-bound", "planned"):
    assert root.find(f".//{NS}line[@class='{cls}']") is not None, f"no {cls} line"
regions = [r for r in root.iter(NS + "rect") if r.get("class") == "region"]
assert regions, "no persistent regions"
rects = [r for r in root.iter(NS + "rect") if r.get("class") == "buffer"]
assert len(rects) == len(entry["buffers"]), (len(rects), len(entry["buffers"]))
for rect, buf in zip(rects, entry["buffers"]):
    x, y = float(rect.get("x")), float(rect.get("y"))
    w, h = float(rect.get("width")), float(rect.get("height"))
    assert 0 <= x and x + w <= width and 0 <= y and y + h <= height and w > 0 and h > 0, buf
    tip = rect.find(NS + "title").text
    assert tip.startswith(f"#{buf['index']} ") and buf["layer"] in tip, (tip, buf)
    assert ("in place of" in tip) == ("in_place_of" in buf), (tip, buf)
    assert (rect.get("stroke-dasharray") is not None) == ("in_place_of" in buf), buf
print(f"{len(rects)} buffers, {len(regions)} region kinds")
print("svg ok")
