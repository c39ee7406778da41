"""Read a settlement workbook back with openpyxl (a reader other than the
writer) for tests/integration/test_settlement.sh. Amounts are turned back
into minor units with the exponent of each cell's own number format, so
the formats are checked too. Prints, one per line:
  summary CUR gross commission fees refunds chargebacks held released
          carried_in carried_out payouts ledger_payouts ledger_sum check1 check2
  payout REF CUR lines gross commission fees refunds chargebacks held
         released carried_in carried_out payout
  statements N ok          (or "statement SHEET: what is wrong")
  continuation sheets N    (statements longer than a sheet go on "NAME (2)"...)
Run with /usr/bin/python3 (Debian's python3-openpyxl).
  settlement_xlsx.py FILE.xlsx
"""
import re
import sys

import openpyxl


def exponent_of(cell):
    """Decimals of the cell's number format: '#,##0.000 "KWD"' is 3."""
    m = re.match(r'#,##0(?:\.(0+))? "([A-Z]{3})"$', cell.number_format or "")
    if not m:
        raise ValueError("%s: not a money format: %r" % (cell.coordinate, cell.number_format))
    return len(m.group(1) or ""), m.group(2)


def minor(cell, cur=None):
    """The cell's amount in minor units (blank is 0)."""
    if cell.value is None:
        return 0
    exp, code = exponent_of(cell)
    if cur and code != cur:
        raise ValueError("%s: format says %s, expected %s" % (cell.coordinate, code, cur))
    return int(round(cell.value * 10 ** exp))


def line_rows(ws, parts):
    """The statement's lines: below its header, then on its continuations."""
    for row in ws.iter_rows(min_row=15):
        yield ws, row
    for part in parts:
        if part.freeze_panes != "A2" or not (part.auto_filter.ref or "").startswith("A1:L"):
            raise ValueError("%s: header not frozen/filtered" % part.title)
        for row in part.iter_rows(min_row=2):
            yield part, row


def check_statement(ws, parts, problems):
    """Lines below the header (and on the statement's continuation sheets)
    sum to the totals block; IDs are text."""
    cur = ws["B2"].value
    n = 0
    sums = {c: 0 for c in "FGHJKL"}
    for sheet, row in line_rows(ws, parts):
        if row[0].value is None:
            continue
        n += 1
        for c, idx in zip("FGHJKL", (5, 6, 7, 9, 10, 11)):
            sums[c] += minor(row[idx], cur)
        for idx in (2, 3):
            if not isinstance(row[idx].value, str):
                problems.append("statement %s: %s is not text" % (sheet.title, row[idx].coordinate))
        if row[4].value is not None and not isinstance(row[4].value, str):
            problems.append("statement %s: %s is not text" % (sheet.title, row[4].coordinate))
    top = {c: minor(ws["B%d" % r], cur) for c, r in zip("FGHJK", (3, 4, 5, 6, 7))}
    for c in "FGHJK":
        if top[c] != sums[c]:
            problems.append("statement %s: column %s sums to %d, totals say %d" % (ws.title, c, sums[c], top[c]))
    held, released, cin, cout = (minor(ws["B%d" % r], cur) for r in (8, 9, 10, 11))
    payout = minor(ws["B12"], cur)
    want = top["F"] - top["G"] - top["H"] - top["J"] - top["K"] - held + released + cin - cout
    if payout != want:
        problems.append("statement %s: payout %d, components give %d" % (ws.title, payout, want))
    if sums["L"] != top["F"] - top["G"] - top["H"] - top["J"] - top["K"]:
        problems.append("statement %s: net column %d does not match" % (ws.title, sums["L"]))
    if ws.freeze_panes != "A15" or not (ws.auto_filter.ref or "").startswith("A14:L"):
        problems.append("statement %s: header not frozen/filtered (%s, %s)" % (ws.title, ws.freeze_panes, ws.auto_filter.ref))
    return n, len(parts)


def main(path):
    wb = openpyxl.load_workbook(path, data_only=True)
    out = []
    summary = wb["Summary"]
    for row in summary.iter_rows(min_row=9):
        if row[0].value is None or not isinstance(row[0].value, str) or len(row[0].value) != 3:
            continue
        cur = row[0].value
        vals = [minor(row[i], cur) for i in range(3, 17)]
        out.append("summary %s %s" % (cur, " ".join(str(v) for v in vals)))
    payouts = wb["Payouts"]
    for row in payouts.iter_rows(min_row=2):
        if row[0].value is None:
            continue
        cur = row[2].value
        vals = [int(row[4].value)] + [minor(row[i], cur) for i in range(5, 15)]
        out.append("payout %s %s %s" % (row[0].value, cur, " ".join(str(v) for v in vals)))
    problems = []
    sheets = [ws for ws in wb.worksheets if ws.title not in ("Summary", "Payouts")]
    titles = {ws.title for ws in sheets}
    parts = {}
    for ws in sheets:
        m = re.match(r"^(.*) \((\d+)\)$", ws.title)
        if m and m.group(1) in titles:
            parts.setdefault(m.group(1), []).append(ws)
    continued = {p.title for ps in parts.values() for p in ps}
    statements = continuations = 0
    for ws in sheets:
        if ws.title not in continued:
            statements += 1
            continuations += check_statement(ws, parts.get(ws.title, []), problems)[1]
    if summary.freeze_panes != "B9" or payouts.freeze_panes != "B2":
        problems.append("Summary/Payouts panes not frozen")
    out.extend(problems or ["statements %d ok" % statements])
    out.append("continuation sheets %d" % continuations)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
