"""Reads nnc train's stderr and stdout (check_bits.py ERR OUT) and checks that
the test loss in bits per character lies well below the training text's
unigram entropy, and that bits/char = loss / ln 2."""
import math
import re
import sys

err = open(sys.argv[1]).read()
out = open(sys.argv[2]).read()
entropy = float(re.search(r"unigram entropy ([0-9.]+) bits per byte", err).group(1))
m = re.search(r"test loss ([0-9.]+) \(([0-9.]+) bits/char\)", out)
loss, bits = float(m.group(1)), float(m.group(2))
assert abs(bits - loss / math.log(2)) < 2e-3, (loss, bits)
print(f"entropy {entropy:.3f} bits/byte, test {bits:.3f} bits/char")
if not bits < 0.8 * entropy:
    sys.exit(f"the test loss ({bits} bits/char) is not well below the unigram entropy "
             f"({entropy} bits/byte)")
print("below the unigram entropy")
