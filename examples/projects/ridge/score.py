"""Count the rows of a CSV file given as a `path` parameter."""

import sys

with open(sys.argv[1]) as f:
    rows = sum(1 for line in f if line.strip()) - 1
print(f"{rows} rows")
