"""Read a loyalty workbook back with openpyxl (a reader other than the
writer) for tests/integration/test_loyalty.sh. Amounts are turned back into
minor units with the exponent of each cell's own number format, so the
formats are checked too. Prints, one per line:
  summary CUR orders opening issued refunds chargebacks expired redeemed
          outstanding value_minor liability_minor check
  tier NAME buyers up_into down_into
  movement KIND BUYER ORDER PAYMENT CUR POINTS BASIS_MINOR   (sorted)
  change BUYER FROM TO DIRECTION CUR SPEND_MINOR WINDOW_DAYS (sorted)
  layout ok                 (or "layout: what is wrong")
Run with /usr/bin/python3 (Debian's python3-openpyxl).
  loyalty_xlsx.py FILE.xlsx
"""
import re
import sys

import openpyxl

HEADER = 6  # the Summary's per-currency header row (1-based)


def exponent_of(cell):
    """Decimals of the cell's number format: '#,##0.000 "KWD"' is 3."""
    m = re.match(r'#,##0(?:\.(0+))? "([A-Z]{3})"$', cell.number_format or "")
    if not m:
        raise ValueError("%s: not a money format: %r" % (cell.coordinate, cell.number_format))
    return len(m.group(1) or ""), m.group(2)


def minor(cell, cur):
    """The cell's amount in minor units of cur ('-' when blank)."""
    if cell.value is None:
        return "-"
    exp, code = exponent_of(cell)
    if code != cur:
        raise ValueError("%s: format says %s, expected %s" % (cell.coordinate, code, cur))
    return int(round(cell.value * 10 ** exp))


def text(cell):
    return "-" if cell.value is None else str(cell.value)


def summary(ws, problems):
    rows = list(ws.iter_rows(min_row=HEADER + 1))
    i = 0
    while i < len(rows) and rows[i][0].value is not None:
        r = rows[i]
        cur = r[0].value
        pts = [int(c.value) for c in r[1:9]]
        out = ["summary", cur] + [str(p) for p in pts]
        out += [str(minor(r[9], cur)), str(minor(r[10], cur)), str(int(r[11].value))]
        print(" ".join(out))
        i += 1
    for r in rows[i + 1:]:
        if r[0].value == "Tier":
            continue
        if r[0].value is not None:
            print("tier %s %d %d %d" % (r[0].value, r[1].value, r[2].value, r[3].value))
    if ws.freeze_panes != "B7":
        problems.append("Summary: header not frozen (%s)" % ws.freeze_panes)


def formulas(path, problems):
    """The Summary's liability and check cells are formulas."""
    ws = openpyxl.load_workbook(path, data_only=False)["Summary"]
    for r in ws.iter_rows(min_row=HEADER + 1):
        if r[0].value is None:
            break
        if r[10].value is not None and not str(r[10].value).startswith("="):
            problems.append("Summary %s: liability is not a formula" % r[10].coordinate)
        if not str(r[11].value).startswith("="):
            problems.append("Summary %s: check is not a formula" % r[11].coordinate)


def table(ws, prefix, problems, money_col, cur_col, id_cols):
    if ws.freeze_panes != "A2" or not ws.auto_filter.ref:
        problems.append("%s: header not frozen/filtered" % ws.title)
    lines = []
    for r in ws.iter_rows(min_row=2):
        for c in id_cols:
            if r[c].value is not None and not isinstance(r[c].value, str):
                problems.append("%s %s is not text" % (ws.title, r[c].coordinate))
        cur = r[cur_col].value
        vals = [text(c) for c in r]
        vals[money_col] = str(minor(r[money_col], cur)) if cur else "-"
        lines.append(" ".join([prefix] + vals))
    for line in sorted(lines):
        print(line)


def main(path):
    wb = openpyxl.load_workbook(path, data_only=True)
    problems = []
    if wb.sheetnames != ["Summary", "Movements", "Tier movements"]:
        problems.append("sheets: %s" % wb.sheetnames)
    summary(wb["Summary"], problems)
    formulas(path, problems)
    mv = wb["Movements"]
    # Kind Reason Buyer Order Payment Currency Points Basis: drop the reason
    lines = []
    if mv.freeze_panes != "A2" or not mv.auto_filter.ref:
        problems.append("Movements: header not frozen/filtered")
    for r in mv.iter_rows(min_row=2):
        for c in (2, 3, 4):
            if r[c].value is not None and not isinstance(r[c].value, str):
                problems.append("Movements %s is not text" % r[c].coordinate)
        cur = r[5].value
        basis = minor(r[7], cur)
        lines.append("movement %s %s %s %s %s %d %s" % (r[0].value, text(r[2]), text(r[3]),
                                                        text(r[4]), cur, int(r[6].value), basis))
    for line in sorted(lines):
        print(line)
    table(wb["Tier movements"], "change", problems, 5, 4, (0,))
    print("layout ok" if not problems else "\n".join("layout: " + p for p in problems))


if __name__ == "__main__":
    main(sys.argv[1])
