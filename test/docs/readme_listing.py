#!/usr/bin/env python3
"""Prints the code block that follows the line naming `example` in README.md.

Usage: readme_listing.py README.md examples/lenet.nn
The README introduces each listing with a line ending in (`<example>`):
"""
import sys

readme, example = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
marker = "(`" + example + "`):"
for i, line in enumerate(lines):
    if line.endswith(marker) and i + 1 < len(lines) and lines[i + 1].startswith("```"):
        end = lines.index("```", i + 2)
        sys.stdout.write("\n".join(lines[i + 2:end]) + "\n")
        sys.exit(0)
sys.exit(f"{readme}: no listing introduced by {marker}")
