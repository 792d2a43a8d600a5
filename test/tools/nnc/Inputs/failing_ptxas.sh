#!/bin/sh
# A ptxas that fails as the real one does on bad input: at the first line of
# the second kernel (.entry) of the PTX file it is given.
for arg; do case $arg in *.ptx) ptx=$arg ;; esac; done
line=$(grep -n '\.entry' "$ptx" | sed -n 2p | cut -d: -f1)
echo "ptxas $ptx, line $line; error : an invented failure" >&2
exit 255
