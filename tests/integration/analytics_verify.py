"""Checks an analytics workbook against its definition, independently of
the plugin: every sheet's query is run again through psql (parameters as
psql variables, in the job's time zone) and each cell of the workbook is
compared with the value psql prints — text as is, numbers exactly or to
1e-9, money multiplied back into minor units by the currency's exponent,
dates and times by their local value. Total rows must hold the sums (by
currency when money is totalled) and every chart of a non-empty sheet must
be in the workbook. Prints "ok" or the problems.

usage: analytics_verify.py WORKBOOK DEFINITION PSQL CONNINFO TIMEZONE FROM TO DATE [NAME=VALUE...]
"""
import csv
import datetime
import decimal
import io
import os
import re
import subprocess
import sys
import zipfile

import openpyxl
import yaml

wb_path, def_path, psql, conninfo, tz, p_from, p_to, p_date = sys.argv[1:9]
args = dict(a.split("=", 1) for a in sys.argv[9:])
d = yaml.safe_load(open(def_path))
problems = []
PTYPES = {"text": "text", "integer": "bigint", "decimal": "numeric", "date": "date",
          "datetime": "timestamptz", "boolean": "boolean"}
values = {"from": (p_from, "timestamptz"), "to": (p_to, "timestamptz"), "date": (p_date, "date")}
for p in d.get("parameters") or []:
    values[p["name"]] = (args.get(p["name"], str(p.get("default"))), PTYPES[p.get("type", "text")])


def psql_rows(query):
    sql = re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", lambda m: "(:'%s')::%s" % (m.group(1), values[m.group(1)][1]), query)
    cmd = [psql, "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    for k, (v, _) in values.items():
        cmd += ["-v", "%s=%s" % (k, v)]
    env = dict(os.environ, PGOPTIONS="-c TimeZone=%s -c jit=off" % tz)
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit("psql failed: " + out.stderr)
    rows = list(csv.reader(io.StringIO(out.stdout)))
    return rows[0], rows[1:]


exponents = {}
for code, e in psql_rows("SELECT code, exponent FROM iso4217")[1]:
    exponents[code] = int(e)


def same(kind, cell, text, cur, field, r):
    where = "%s row %d %s" % (sheet_name, r, field)
    if text == "":
        if cell not in (None, ""):
            problems.append("%s: %r but SQL gives NULL" % (where, cell))
        return
    if kind == "text":
        ok = str(cell) == text
    elif kind == "money":
        exp = exponents[cur]
        ok = cell is not None and round(decimal.Decimal(repr(cell)) * 10 ** exp) == int(text)
    elif kind in ("integer", "decimal", "percent"):
        ok = cell is not None and abs(float(cell) - float(text)) <= 1e-9 * max(1.0, abs(float(text)))
    elif kind == "date":
        ok = isinstance(cell, datetime.datetime) and cell.date().isoformat() == text[:10]
    else:  # datetime: the local time psql prints, without its offset
        want = datetime.datetime.fromisoformat(re.sub(r"[+-]\d\d(:\d\d)?$", "", text))
        ok = isinstance(cell, datetime.datetime) and abs((cell - want).total_seconds()) < 0.002
    if not ok:
        problems.append("%s: workbook %r, SQL %r" % (where, cell, text))


wb = openpyxl.load_workbook(wb_path, data_only=True)
with zipfile.ZipFile(wb_path) as z:
    chart_files = [n for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)]
if wb.sheetnames[0] != "Cover":
    problems.append("first sheet %s, not Cover" % wb.sheetnames[0])
charts_expected = 0
for sh in d["sheets"]:
    sheet_name = sh["name"]
    if sheet_name not in wb.sheetnames:
        problems.append("no sheet %s" % sheet_name)
        continue
    ws = wb[sheet_name]
    head, rows = psql_rows(sh["query"])
    cols = [c if isinstance(c, dict) else {"field": c} for c in sh.get("columns") or [{"field": h} for h in head]]
    header = [c.value for c in ws[1]][: len(cols)]
    if header != [c.get("header", c["field"]) for c in cols]:
        problems.append("%s: header %s" % (sheet_name, header))
    totals = sh.get("totals") or []
    data = list(ws.iter_rows(min_row=2, max_row=len(rows) + 1, values_only=True))
    for r, (want, got) in enumerate(zip(rows, data), start=2):
        for i, c in enumerate(cols):
            text = want[head.index(c["field"])]
            cur = want[head.index(c["currency_field"])] if c.get("currency_field") else c.get("currency")
            same(c.get("type", "text"), got[i], text, cur, c["field"], r)
    if len(data) != len(rows):
        problems.append("%s: %d data rows, SQL %d" % (sheet_name, len(data), len(rows)))
    # total rows: one per currency when money is totalled, else one
    money_cur = next((c["currency_field"] for c in cols if c["field"] in totals and c.get("type") == "money" and c.get("currency_field")), None)
    extra = list(ws.iter_rows(min_row=len(rows) + 2, values_only=True))
    if totals and rows:
        groups = sorted({w[head.index(money_cur)] for w in rows}) if money_cur else [None]
        if len(extra) != len(groups):
            problems.append("%s: %d total rows for %d groups" % (sheet_name, len(extra), len(groups)))
        for tr in extra:
            g = tr[[c["field"] for c in cols].index(money_cur)] if money_cur else None
            for f in totals:
                i = [c["field"] for c in cols].index(f)
                c = cols[i]
                member = [w for w in rows if money_cur is None or w[head.index(money_cur)] == g]
                vals = [w[head.index(f)] for w in member if w[head.index(f)] != ""]
                if c.get("type") == "money":
                    cur = g if money_cur else c.get("currency")
                    ok = tr[i] is not None and round(decimal.Decimal(repr(tr[i])) * 10 ** exponents[cur]) == sum(int(v) for v in vals)
                else:
                    s = sum(decimal.Decimal(v) for v in vals)
                    ok = tr[i] is not None and abs(decimal.Decimal(repr(tr[i])) - s) <= decimal.Decimal("1e-6") * max(1, abs(s))
                if not ok:
                    problems.append("%s: total %s %s: %r" % (sheet_name, g or "", f, tr[i]))
    elif extra:
        problems.append("%s: %d rows below the data" % (sheet_name, len(extra)))
    n_charts = len(sh.get("charts") or []) + (1 if sh.get("chart") else 0)
    if rows:
        charts_expected += n_charts
        if len(ws._charts) != n_charts:
            problems.append("%s: %d charts, defined %d" % (sheet_name, len(ws._charts), n_charts))
    if sh.get("freeze", True) and ws.freeze_panes != "A2":
        problems.append("%s: header not frozen (%s)" % (sheet_name, ws.freeze_panes))
    if sh.get("autofilter", True) and not ws.auto_filter.ref:
        problems.append("%s: no autofilter" % sheet_name)
    if sh.get("conditional") and rows and not len(ws.conditional_formatting):
        problems.append("%s: no conditional formats" % sheet_name)
if len(chart_files) != charts_expected:
    problems.append("%d xl/charts/chart*.xml, expected %d" % (len(chart_files), charts_expected))
print("; ".join(problems[:8]) if problems else "ok")
