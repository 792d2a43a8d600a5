"""Writes a small English-like text for byte-level language-model tests:
make_text.py OUT BYTES. Words drawn from a fixed list by a seeded generator,
so the next byte is far more predictable than the byte frequencies say."""
import random
import sys

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards "
         "box and quietly hum their old tunes near the river bank").split()

out, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
text = []
n = 0
while n < size:
    line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + ".\n"
    text.append(line)
    n += len(line)
with open(out, "w") as f:
    f.write("".join(text)[:size])
