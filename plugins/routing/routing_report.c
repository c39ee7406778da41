/* routing_report.c: what the depots and dispatchers read — routes_<D>.xlsx
 * (a Summary per depot, the unassigned deliveries with their reasons, and
 * one printable manifest sheet per agent) and routes_<D>.geojson (a
 * LineString per route, a Point per stop). Both are written to a .tmp
 * name and renamed when complete. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "routing.h"

static int routing_paths(const routing_state *st, purser_ctx *ctx, const routing_plan *plan,
                         const char *ext, char *path, size_t len, char *tmp, size_t tlen)
{
    char name[64];
    snprintf(name, sizeof name, "routes_%s.%s", plan->date, ext);
    if (st->host->report_path(ctx, name, path, len) != 0)
        return -1;
    if ((size_t)snprintf(tmp, tlen, "%s.tmp", path) >= tlen) {
        st->host->log(ctx, PURSER_LOG_ERROR, "report path too long: %s", path);
        return -1;
    }
    return 0;
}

static purser_status routing_publish(const routing_state *st, purser_ctx *ctx, const char *tmp,
                                     const char *path)
{
    if (rename(tmp, path) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "renaming %s: %s", tmp, strerror(errno));
        remove(tmp);
        return PURSER_ERROR;
    }
    st->host->log(ctx, PURSER_LOG_INFO, "wrote %s", path);
    return PURSER_OK;
}

/* ---- workbook ----------------------------------------------------------- */

typedef struct routing_fmt {
    lxw_format *head, *km, *pct;
} routing_fmt;

static void routing_header_row(lxw_worksheet *ws, const char *const *cols, int n,
                               const routing_fmt *f)
{
    for (int c = 0; c < n; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, cols[c], f->head);
    worksheet_freeze_panes(ws, 1, 0);
}

/* Per depot: counts by reason, "too heavy for any vehicle x2; ...". */
static void routing_reasons(const routing_depot *d, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < d->n_dlv; i++) {
        const char *r = d->dlv[i].reason;
        if (!r)
            continue;
        int seen = 0, count = 0;
        for (int k = 0; k < d->n_dlv; k++) {
            if (d->dlv[k].reason && strcmp(d->dlv[k].reason, r) == 0) {
                if (k < i)
                    seen = 1;
                count++;
            }
        }
        if (seen)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s x%d", used ? "; " : "", r, count);
        if (n < 0 || used + (size_t)n >= len)
            return;
        used += (size_t)n;
    }
}

static void routing_sheet_summary(lxw_workbook *wb, const routing_plan *plan, const routing_fmt *f)
{
    static const char *const cols[] = {"Depot",
                                       "Name",
                                       "Deliveries",
                                       "Routed",
                                       "Routes",
                                       "Agents",
                                       "Km",
                                       "Hours",
                                       "Load utilisation",
                                       "Shift utilisation",
                                       "Unassigned",
                                       "Unassigned reasons"};
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Summary");
    routing_header_row(ws, cols, 12, f);
    worksheet_set_column(ws, 0, 1, 16, NULL);
    worksheet_set_column(ws, 2, 10, 11, NULL);
    worksheet_set_column(ws, 11, 11, 60, NULL);
    int row = 1;
    for (int i = 0; i < plan->n_depots; i++) {
        const routing_depot *d = &plan->depots[i];
        if (d->n_dlv == 0 && d->n_routes == 0)
            continue;
        double km = 0, hours = 0, load = 0, cap = 0, shift = 0;
        for (int k = 0; k < d->n_routes; k++) {
            const routing_route *r = &d->routes[k];
            const routing_agent *a = &d->agents[r->agent];
            km += r->distance / 1000;
            hours += (r->end - r->start) / 3600;
            load += (double)r->load;
            cap += (double)a->capacity;
            shift += (a->shift_end - a->shift_start) / 3600;
        }
        char reasons[1024];
        routing_reasons(d, reasons, sizeof reasons);
        worksheet_write_string(ws, (lxw_row_t)row, 0, d->code, NULL);
        worksheet_write_string(ws, (lxw_row_t)row, 1, d->name, NULL);
        worksheet_write_number(ws, (lxw_row_t)row, 2, d->n_dlv, NULL);
        worksheet_write_number(ws, (lxw_row_t)row, 3, d->n_dlv - d->n_unassigned, NULL);
        worksheet_write_number(ws, (lxw_row_t)row, 4, d->n_routes, NULL);
        worksheet_write_number(ws, (lxw_row_t)row, 5, d->n_agents, NULL);
        worksheet_write_number(ws, (lxw_row_t)row, 6, km, f->km);
        worksheet_write_number(ws, (lxw_row_t)row, 7, hours, f->km);
        worksheet_write_number(ws, (lxw_row_t)row, 8, cap > 0 ? load / cap : 0, f->pct);
        worksheet_write_number(ws, (lxw_row_t)row, 9, shift > 0 ? hours / shift : 0, f->pct);
        worksheet_write_number(ws, (lxw_row_t)row, 10, d->n_unassigned, NULL);
        worksheet_write_string(ws, (lxw_row_t)row, 11, reasons, NULL);
        row++;
    }
    worksheet_autofilter(ws, 0, 0, (lxw_row_t)(row > 1 ? row - 1 : 1), 11);
}

static void routing_sheet_unassigned(lxw_workbook *wb, const routing_plan *plan,
                                     const routing_fmt *f)
{
    static const char *const cols[] = {"Depot",  "Delivery",  "Address",
                                       "Window", "Weight kg", "Reason"};
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Unassigned");
    routing_header_row(ws, cols, 6, f);
    worksheet_set_column(ws, 2, 2, 40, NULL);
    worksheet_set_column(ws, 3, 3, 14, NULL);
    worksheet_set_column(ws, 5, 5, 50, NULL);
    int row = 1;
    for (int i = 0; i < plan->n_depots; i++) {
        const routing_depot *d = &plan->depots[i];
        for (int k = 0; k < d->n_dlv; k++) {
            const routing_delivery *x = &d->dlv[k];
            if (!x->reason)
                continue;
            char a[8], b[8], win[20];
            routing_clock(plan, x->win_start, a);
            routing_clock(plan, x->win_end, b);
            snprintf(win, sizeof win, "%s-%s", a, b);
            worksheet_write_string(ws, (lxw_row_t)row, 0, d->code, NULL);
            worksheet_write_number(ws, (lxw_row_t)row, 1, (double)x->id, NULL);
            worksheet_write_string(ws, (lxw_row_t)row, 2, x->address, NULL);
            worksheet_write_string(ws, (lxw_row_t)row, 3, win, NULL);
            worksheet_write_number(ws, (lxw_row_t)row, 4, (double)x->weight / 1000, f->km);
            worksheet_write_string(ws, (lxw_row_t)row, 5, x->reason, NULL);
            row++;
        }
    }
    worksheet_autofilter(ws, 0, 0, (lxw_row_t)(row > 1 ? row - 1 : 1), 5);
}

/* Copies s into dst for a page header: '&' doubled, at most len - 1 bytes. */
static void routing_header_text(char *dst, size_t len, const char *s)
{
    size_t j = 0;
    for (; *s && j + 2 < len; s++) {
        if (*s == '&')
            dst[j++] = '&';
        dst[j++] = *s;
    }
    dst[j] = '\0';
}

/* A valid, unique sheet name: "<agent id> <name>", at most 31 characters. */
static void routing_sheet_name(const routing_agent *a, char *buf)
{
    snprintf(buf, 32, "%lld %s", (long long)a->id, a->name);
    for (char *p = buf; *p; p++)
        if (strchr("[]:*?/\\'", *p) || (unsigned char)*p >= 0x80)
            *p = '_';
}

static void routing_sheet_agent(lxw_workbook *wb, const routing_plan *plan, const routing_depot *d,
                                const routing_route *r, const routing_fmt *f)
{
    static const char *const cols[] = {
        "Seq",        "Delivery",        "Address",           "Window start",
        "Window end", "Planned arrival", "Planned departure", "Weight kg",
        "Service min"};
    const routing_agent *a = &d->agents[r->agent];
    char name[32], hname[64], hdepot[64], header[512], leave[8], back[8];
    routing_sheet_name(a, name);
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    if (!ws)
        return;
    routing_header_row(ws, cols, 9, f);
    worksheet_set_column(ws, 2, 2, 42, NULL);
    worksheet_set_column(ws, 3, 6, 12, NULL);
    routing_clock(plan, r->start, leave);
    routing_clock(plan, r->end, back);
    routing_header_text(hname, sizeof hname, a->name);
    routing_header_text(hdepot, sizeof hdepot, d->code);
    snprintf(header, sizeof header, "&L%s, depot %s&C%s&R%d stops, %.1f km, %.1f kg, %s-%s",
             plan->date, hdepot, hname, r->n_stops, r->distance / 1000, (double)r->load / 1000,
             leave, back);
    worksheet_set_header(ws, header);
    worksheet_set_footer(ws, "&CPage &P of &N");
    worksheet_set_landscape(ws);
    worksheet_fit_to_pages(ws, 1, 0);
    worksheet_repeat_rows(ws, 0, 0);
    for (int s = 0; s < r->n_stops; s++) {
        const routing_delivery *x = &d->dlv[r->stops[s]];
        lxw_row_t row = (lxw_row_t)(s + 1);
        char t[4][8];
        routing_clock(plan, x->win_start, t[0]);
        routing_clock(plan, x->win_end, t[1]);
        routing_clock(plan, x->arrival, t[2]);
        routing_clock(plan, x->departure, t[3]);
        worksheet_write_number(ws, row, 0, s + 1, NULL);
        worksheet_write_number(ws, row, 1, (double)x->id, NULL);
        worksheet_write_string(ws, row, 2, x->address, NULL);
        for (int c = 0; c < 4; c++)
            worksheet_write_string(ws, row, (lxw_col_t)(3 + c), t[c], NULL);
        worksheet_write_number(ws, row, 7, (double)x->weight / 1000, f->km);
        worksheet_write_number(ws, row, 8, round(x->service / 60), NULL);
    }
    worksheet_autofilter(ws, 0, 0, (lxw_row_t)r->n_stops, 8);
}

purser_status routing_report_xlsx(const routing_state *st, purser_ctx *ctx,
                                  const routing_plan *plan)
{
    char path[4096], tmp[4200];
    if (routing_paths(st, ctx, plan, "xlsx", path, sizeof path, tmp, sizeof tmp))
        return PURSER_ERROR;
    lxw_workbook *wb = workbook_new(tmp);
    if (!wb) {
        st->host->log(ctx, PURSER_LOG_ERROR, "creating %s failed", tmp);
        return PURSER_ERROR;
    }
    routing_fmt f = {workbook_add_format(wb), workbook_add_format(wb), workbook_add_format(wb)};
    format_set_bold(f.head);
    format_set_bottom(f.head, LXW_BORDER_THIN);
    format_set_num_format(f.km, "0.0");
    format_set_num_format(f.pct, "0.0%");
    routing_sheet_summary(wb, plan, &f);
    routing_sheet_unassigned(wb, plan, &f);
    for (int i = 0; i < plan->n_depots; i++)
        for (int k = 0; k < plan->depots[i].n_routes; k++)
            routing_sheet_agent(wb, plan, &plan->depots[i], &plan->depots[i].routes[k], &f);
    lxw_error e = workbook_close(wb);
    if (e != LXW_NO_ERROR) {
        st->host->log(ctx, PURSER_LOG_ERROR, "writing %s: %s", tmp, lxw_strerror(e));
        remove(tmp);
        return PURSER_ERROR;
    }
    return routing_publish(st, ctx, tmp, path);
}

/* ---- GeoJSON ----------------------------------------------------------- */

/* "2026-11-28T10:05:00+01:00": the local time of t with the day's offset. */
static void routing_iso(const routing_plan *plan, double t, char *buf, size_t len)
{
    char clock[8];
    routing_clock(plan, t, clock);
    int off = plan->utc_offset, a = off < 0 ? -off : off;
    snprintf(buf, len, "%sT%s:00%c%02d:%02d", plan->date, clock, off < 0 ? '-' : '+', a / 3600,
             (a / 60) % 60);
}

static cJSON *routing_point(double lon, double lat)
{
    cJSON *c = cJSON_CreateArray();
    cJSON_AddItemToArray(c, cJSON_CreateNumber(lon));
    cJSON_AddItemToArray(c, cJSON_CreateNumber(lat));
    return c;
}

static cJSON *routing_feature(const char *type, cJSON *coords, cJSON **props)
{
    cJSON *f = cJSON_CreateObject(), *g = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "type", "Feature");
    cJSON_AddStringToObject(g, "type", type);
    cJSON_AddItemToObject(g, "coordinates", coords);
    cJSON_AddItemToObject(f, "geometry", g);
    *props = cJSON_AddObjectToObject(f, "properties");
    return f;
}

static void routing_geo_route(cJSON *feats, const routing_plan *plan, const routing_depot *d,
                              const routing_route *r)
{
    const routing_agent *a = &d->agents[r->agent];
    cJSON *line = cJSON_CreateArray(), *props;
    char t[40];
    cJSON_AddItemToArray(line, routing_point(d->lon, d->lat));
    for (int s = 0; s < r->n_stops; s++)
        cJSON_AddItemToArray(line, routing_point(d->dlv[r->stops[s]].lon, d->dlv[r->stops[s]].lat));
    cJSON_AddItemToArray(line, routing_point(d->lon, d->lat));
    cJSON_AddItemToArray(feats, routing_feature("LineString", line, &props));
    cJSON_AddStringToObject(props, "kind", "route");
    cJSON_AddStringToObject(props, "depot", d->code);
    cJSON_AddNumberToObject(props, "agent_id", (double)a->id);
    cJSON_AddStringToObject(props, "agent", a->name);
    cJSON_AddNumberToObject(props, "stops", r->n_stops);
    cJSON_AddNumberToObject(props, "distance_m", round(r->distance));
    cJSON_AddNumberToObject(props, "load_grams", (double)r->load);
    routing_iso(plan, r->start, t, sizeof t);
    cJSON_AddStringToObject(props, "start", t);
    routing_iso(plan, r->end, t, sizeof t);
    cJSON_AddStringToObject(props, "end", t);
    for (int s = 0; s < r->n_stops; s++) {
        const routing_delivery *x = &d->dlv[r->stops[s]];
        cJSON_AddItemToArray(feats,
                             routing_feature("Point", routing_point(x->lon, x->lat), &props));
        cJSON_AddStringToObject(props, "kind", "stop");
        cJSON_AddNumberToObject(props, "agent_id", (double)a->id);
        cJSON_AddStringToObject(props, "agent", a->name);
        cJSON_AddNumberToObject(props, "seq", s + 1);
        cJSON_AddNumberToObject(props, "delivery_id", (double)x->id);
        cJSON_AddStringToObject(props, "address", x->address);
        routing_iso(plan, x->arrival, t, sizeof t);
        cJSON_AddStringToObject(props, "arrival", t);
    }
}

purser_status routing_report_geojson(const routing_state *st, purser_ctx *ctx,
                                     const routing_plan *plan)
{
    char path[4096], tmp[4200];
    if (routing_paths(st, ctx, plan, "geojson", path, sizeof path, tmp, sizeof tmp))
        return PURSER_ERROR;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "type", "FeatureCollection");
    cJSON *feats = cJSON_AddArrayToObject(doc, "features");
    for (int i = 0; i < plan->n_depots; i++)
        for (int k = 0; k < plan->depots[i].n_routes; k++)
            routing_geo_route(feats, plan, &plan->depots[i], &plan->depots[i].routes[k]);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!text) {
        st->host->log(ctx, PURSER_LOG_ERROR, "out of memory writing %s", tmp);
        return PURSER_ERROR;
    }
    FILE *fp = fopen(tmp, "w");
    int ok = fp && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(text);
    if (!ok) {
        st->host->log(ctx, PURSER_LOG_ERROR, "writing %s: %s", tmp, strerror(errno));
        remove(tmp);
        return PURSER_ERROR;
    }
    return routing_publish(st, ctx, tmp, path);
}
