"""Read a reconciliation workbook back with openpyxl and check what finance
relies on; print one "ok ..." / "FAIL ..." line per check, exit 1 on a FAIL.

    recon_workbook.py BOOK.xlsx [CATEGORY=REF[,REF...]]... [--refs FILE]

Checks: the sheets (Summary, one per exception category named as recon.h
names it, probable, pending, Matched, Payouts); every Difference cell of the
Summary is a formula whose value, as a non-Excel reader sees it, is 0;
list sheets have a frozen header, an autofilter and a `reference` column of
text; dates are real dates; amounts are numbers formatted by exponent.
CATEGORY=REF|REF...: those references are on that sheet. --refs FILE: FILE
holds `category,reference` lines, and each exception sheet lists exactly
those references (nothing else). --export FILE PROVIDER: append every
exception sheet's rows to FILE as `PROVIDER,reference,category`.
"""
import csv
import datetime
import sys

import openpyxl

EXCEPTIONS = ["amount_mismatch", "currency_mismatch", "missing_at_provider",
              "missing_internally", "duplicate_at_provider", "fee_discrepancy",
              "payout_mismatch"]
SHEETS = ["Summary"] + EXCEPTIONS + ["probable", "pending", "Matched", "Payouts"]
FAILED = []


def check(ok, what):
    print(("ok " if ok else "FAIL ") + what)
    if not ok:
        FAILED.append(what)


def refs_of(ws):
    head = [c.value for c in ws[1]]
    col = head.index("reference")
    out = []
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[col] is not None:
            out.append(row[col])
    return out


def main():
    path = sys.argv[1]
    wb = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    check(wb.sheetnames == SHEETS, "sheets %s" % wb.sheetnames)
    summary, summary_v = wb["Summary"], values["Summary"]
    diffs = 0
    for row, vrow in zip(summary.iter_rows(), summary_v.iter_rows()):
        if row[1].value and str(row[1].value).startswith("Difference"):
            for cell, vcell in zip(row[2:], vrow[2:]):
                if cell.value is None:
                    continue
                diffs += 1
                check(str(cell.value).startswith("=") and vcell.value == 0,
                      "Summary %s%d: %s = %r" % (cell.column_letter, cell.row, cell.value,
                                                 vcell.value))
    check(diffs > 0 or any(c.value == "(the report has no rows)" for c in summary["A"]),
          "Summary has Difference cells")
    check(any(c.value == "Source files" for c in summary["A"]), "Summary lists the source files")
    shas = [c.value for c in summary["B"] if isinstance(c.value, str) and len(c.value) == 64]
    check(all(all(ch in "0123456789abcdef" for ch in s) for s in shas), "SHA-256 of sources")
    for name in SHEETS[1:]:
        ws = wb[name]
        head = [c.value for c in ws[1]]
        check("reference" in head, "%s: a reference column" % name)
        check(ws.freeze_panes == "A2", "%s: header frozen" % name)
        check(bool(ws.auto_filter.ref), "%s: autofilter" % name)
        col = head.index("reference") + 1
        cells = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
        check(all(c.value is None or isinstance(c.value, str) for c in cells),
              "%s: references are text" % name)
        if "date" in head:
            dcol = head.index("date") + 1
            dates = [ws.cell(row=r, column=dcol).value for r in range(2, ws.max_row + 1)]
            check(all(d is None or isinstance(d, datetime.datetime) for d in dates),
                  "%s: dates are dates" % name)
        if "amount" in head and ws.max_row > 1:
            acol = head.index("amount") + 1
            fmts = set(ws.cell(row=r, column=acol).number_format for r in range(2, ws.max_row + 1)
                       if ws.cell(row=r, column=acol).value is not None)
            check(fmts <= {"#,##0", "#,##0.00", "#,##0.000"}, "%s: amount formats %s"
                  % (name, sorted(fmts)))
    args = sys.argv[2:]
    while args:
        arg = args.pop(0)
        if arg == "--refs":
            want = {n: set() for n in EXCEPTIONS}
            with open(args.pop(0), newline="") as f:
                for cat, ref in csv.reader(f):
                    want[cat].add(ref)
            for name in EXCEPTIONS:
                got = refs_of(wb[name])
                check(set(got) == want[name], "%s: exactly the expected %d references (sheet has "
                      "%d)" % (name, len(want[name]), len(got)))
            continue
        if arg == "--export":
            out, provider = args.pop(0), args.pop(0)
            with open(out, "a", newline="") as f:
                w = csv.writer(f)
                for name in EXCEPTIONS:
                    for ref in refs_of(wb[name]):
                        w.writerow([provider, ref, name])
            continue
        cat, refs = arg.split("=", 1)
        got = set(refs_of(wb[cat]))
        for ref in refs.split("|"):
            check(ref in got, "%s lists %s" % (cat, ref))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
