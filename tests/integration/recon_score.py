"""Score the reconciliation against the simulator's answer key.

    recon_score.py ANSWER_KEY FOUND
FOUND is `provider,reference,category` CSV (the exceptions reported, header
first). Prints precision and recall (exact fractions) and every row found
but not injected or injected but not found; exits 0 only when both are 1.
"""
import csv
import sys
from fractions import Fraction


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["provider", "reference", "category"], rows[0]
    return set(tuple(r) for r in rows[1:])


def main():
    key, found = load(sys.argv[1]), load(sys.argv[2])
    hits = key & found
    precision = Fraction(len(hits), len(found)) if found else Fraction(0)
    recall = Fraction(len(hits), len(key)) if key else Fraction(0)
    print("injected %d, reported %d, both %d" % (len(key), len(found), len(hits)))
    print("precision %s = %.6f, recall %s = %.6f" % (precision, float(precision), recall,
                                                     float(recall)))
    for row in sorted(found - key)[:20]:
        print("reported, not injected: %s" % ",".join(row))
    for row in sorted(key - found)[:20]:
        print("injected, not reported: %s" % ",".join(row))
    return 0 if precision == 1 and recall == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
