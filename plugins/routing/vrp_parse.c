/* vrp_parse.c: readers for CVRPLIB .vrp (EUC_2D) and Solomon VRPTW .txt
 * instances. Tolerant of CRLF, tabs and trailing blanks; any other
 * surprise is an error "FILE:LINE: message", never a crash. */
#include "vrp.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VRP_MAX_LINE 4096
#define VRP_MAX_TOKENS 16
#define VRP_MAX_NODES 1000000

/* A cursor over the input, one line at a time, split into tokens. */
typedef struct vrp_reader {
    const char *name;
    const char *p, *end;
    int line;
    char buf[VRP_MAX_LINE];
    char *tok[VRP_MAX_TOKENS];
    int ntok;
    char *err;
    size_t errlen;
} vrp_reader;

static int vrp_fail(vrp_reader *rd, const char *fmt, ...)
{
    int n = snprintf(rd->err, rd->errlen, "%s:%d: ", rd->name, rd->line > 0 ? rd->line : 1);
    if (n >= 0 && (size_t)n < rd->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int vrp_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads the next line into buf, trimmed at both ends, and tokenizes it on
 * blanks. Returns 1 for a line, 0 at end of input, -1 on error. */
static int vrp_next_line(vrp_reader *rd)
{
    if (rd->p >= rd->end)
        return 0;
    const char *nl = memchr(rd->p, '\n', (size_t)(rd->end - rd->p));
    const char *stop = nl ? nl : rd->end;
    size_t len = (size_t)(stop - rd->p);
    rd->line++;
    if (len >= VRP_MAX_LINE)
        return vrp_fail(rd, "line longer than %d bytes", VRP_MAX_LINE - 1);
    memcpy(rd->buf, rd->p, len);
    rd->buf[len] = '\0';
    rd->p = nl ? nl + 1 : rd->end;
    if (memchr(rd->buf, '\0', len))
        return vrp_fail(rd, "NUL byte in text");
    rd->ntok = 0;
    char *s = rd->buf;
    while (*s) {
        while (vrp_is_blank(*s))
            *s++ = '\0';
        if (!*s)
            break;
        if (rd->ntok == VRP_MAX_TOKENS)
            return vrp_fail(rd, "more than %d fields", VRP_MAX_TOKENS);
        rd->tok[rd->ntok++] = s;
        while (*s && !vrp_is_blank(*s))
            s++;
    }
    return 1;
}

/* Next non-blank line: 1, 0 at end, -1 on error. */
static int vrp_next_content(vrp_reader *rd)
{
    int rc;
    while ((rc = vrp_next_line(rd)) == 1 && rd->ntok == 0)
        ;
    return rc;
}

static int vrp_to_double(const char *s, double *out)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || *e || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int vrp_to_long(const char *s, long *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (e == s || *e || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* ---- CVRPLIB ---- */

typedef struct vrp_cvrp {
    long dimension;
    long capacity;
    long vehicles;
    int have_coords, have_demands, have_depot;
    vrp_instance *inst;
    char name[64];
} vrp_cvrp;

/* Splits "KEY : VALUE" (the colon may touch either side) held in tokens. */
static int vrp_header(vrp_reader *rd, char *key, size_t keylen, char *val, size_t vallen)
{
    char line[VRP_MAX_LINE] = "";
    for (int i = 0; i < rd->ntok; i++) {
        if (i)
            strcat(line, " ");
        strcat(line, rd->tok[i]);
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return vrp_fail(rd, "expected 'KEYWORD : value' or a section, got '%s'", rd->tok[0]);
    *colon = '\0';
    char *k = line, *v = colon + 1;
    while (*k == ' ')
        k++;
    size_t kl = strlen(k);
    while (kl && k[kl - 1] == ' ')
        k[--kl] = '\0';
    while (*v == ' ')
        v++;
    snprintf(key, keylen, "%s", k);
    snprintf(val, vallen, "%s", v);
    return 0;
}

static int vrp_cvrp_keyword(vrp_reader *rd, vrp_cvrp *c)
{
    char key[VRP_MAX_LINE], val[VRP_MAX_LINE];
    if (vrp_header(rd, key, sizeof(key), val, sizeof(val)))
        return -1;
    if (!strcmp(key, "NAME")) {
        snprintf(c->name, sizeof(c->name), "%.63s", val);
    } else if (!strcmp(key, "COMMENT")) {
        /* Augerat's sets state their fleet here: "No of trucks: 5" */
        const char *trucks = strstr(val, "No of trucks:");
        if (trucks && !c->vehicles)
            c->vehicles = strtol(trucks + 13, NULL, 10);
        if (c->vehicles < 0 || c->vehicles > VRP_MAX_NODES)
            return vrp_fail(rd, "bad number of trucks in COMMENT");
    } else if (!strcmp(key, "TYPE")) {
        if (strcmp(val, "CVRP"))
            return vrp_fail(rd, "unsupported TYPE '%s' (expected CVRP)", val);
    } else if (!strcmp(key, "EDGE_WEIGHT_TYPE")) {
        if (strcmp(val, "EUC_2D"))
            return vrp_fail(rd, "unsupported EDGE_WEIGHT_TYPE '%s' (expected EUC_2D)", val);
    } else if (!strcmp(key, "DIMENSION")) {
        if (c->dimension)
            return vrp_fail(rd, "DIMENSION given twice");
        if (vrp_to_long(val, &c->dimension) || c->dimension < 2 || c->dimension > VRP_MAX_NODES)
            return vrp_fail(rd, "DIMENSION must be an integer from 2 to %d, got '%s'",
                            VRP_MAX_NODES, val);
    } else if (!strcmp(key, "CAPACITY")) {
        if (vrp_to_long(val, &c->capacity) || c->capacity <= 0)
            return vrp_fail(rd, "CAPACITY must be a positive integer, got '%s'", val);
    } else if (!strcmp(key, "VEHICLES")) {
        if (vrp_to_long(val, &c->vehicles) || c->vehicles <= 0 || c->vehicles > VRP_MAX_NODES)
            return vrp_fail(rd, "VEHICLES must be a positive integer, got '%s'", val);
    } else {
        return vrp_fail(rd, "unknown keyword '%s'", key);
    }
    return 0;
}

/* Reads DIMENSION lines of "id v1 [v2]" into seen-checked slots. */
static int vrp_cvrp_rows(vrp_reader *rd, vrp_cvrp *c, const char *section, int nvals)
{
    long n = c->dimension;
    char *seen = calloc((size_t)n, 1);
    if (!seen)
        return vrp_fail(rd, "out of memory");
    int rc = 0;
    for (long k = 0; k < n && rc == 0; k++) {
        int got = vrp_next_content(rd);
        if (got <= 0) {
            rc = got < 0 ? -1 : vrp_fail(rd, "%s ends after %ld of %ld rows", section, k, n);
            break;
        }
        long id;
        double v[2];
        if (rd->ntok != 1 + nvals) {
            rc = vrp_fail(rd, "%s row needs %d fields, got %d", section, 1 + nvals, rd->ntok);
        } else if (vrp_to_long(rd->tok[0], &id) || id < 1 || id > n) {
            rc = vrp_fail(rd, "node id '%s' not in 1..%ld", rd->tok[0], n);
        } else if (seen[id - 1]) {
            rc = vrp_fail(rd, "node %ld listed twice in %s", id, section);
        } else {
            for (int i = 0; i < nvals && rc == 0; i++)
                if (vrp_to_double(rd->tok[1 + i], &v[i]))
                    rc = vrp_fail(rd, "bad number '%s'", rd->tok[1 + i]);
            if (rc == 0) {
                seen[id - 1] = 1;
                vrp_node *nd = &c->inst->nodes[id - 1];
                if (nvals == 2) {
                    nd->x = v[0];
                    nd->y = v[1];
                } else if (v[0] < 0 || v[0] != floor(v[0]) || v[0] > 1e15) {
                    rc =
                        vrp_fail(rd, "demand must be a non-negative integer, got '%s'", rd->tok[1]);
                } else {
                    nd->demand = (long)v[0];
                }
            }
        }
    }
    free(seen);
    return rc;
}

static int vrp_cvrp_depot(vrp_reader *rd)
{
    int ndepots = 0;
    for (;;) {
        int got = vrp_next_content(rd);
        if (got < 0)
            return -1;
        if (got == 0)
            return vrp_fail(rd, "DEPOT_SECTION not terminated by -1");
        long id;
        if (rd->ntok != 1 || vrp_to_long(rd->tok[0], &id))
            return vrp_fail(rd, "DEPOT_SECTION expects one integer per line");
        if (id == -1)
            break;
        if (id != 1 || ndepots)
            return vrp_fail(rd, "only a single depot numbered 1 is supported, got %ld", id);
        ndepots++;
    }
    if (!ndepots)
        return vrp_fail(rd, "DEPOT_SECTION lists no depot");
    return 0;
}

static int vrp_cvrp_section(vrp_reader *rd, vrp_cvrp *c)
{
    const char *s = rd->tok[0];
    if (rd->ntok != 1)
        return vrp_fail(rd, "unexpected text after %s", s);
    if (!c->dimension)
        return vrp_fail(rd, "%s before DIMENSION", s);
    if (!c->inst) {
        c->inst = vrp_instance_new((int)c->dimension, 1);
        if (!c->inst)
            return vrp_fail(rd, "out of memory");
    }
    if (!strcmp(s, "NODE_COORD_SECTION")) {
        c->have_coords = 1;
        return vrp_cvrp_rows(rd, c, "NODE_COORD_SECTION", 2);
    }
    if (!strcmp(s, "DEMAND_SECTION")) {
        c->have_demands = 1;
        return vrp_cvrp_rows(rd, c, "DEMAND_SECTION", 1);
    }
    if (!strcmp(s, "DEPOT_SECTION")) {
        c->have_depot = 1;
        return vrp_cvrp_depot(rd);
    }
    return vrp_fail(rd, "unsupported section %s", s);
}

static int vrp_parse_cvrp(vrp_reader *rd, vrp_instance **out)
{
    vrp_cvrp c = {0};
    int got;
    while ((got = vrp_next_content(rd)) == 1) {
        size_t l = strlen(rd->tok[0]);
        int rc;
        if (!strcmp(rd->tok[0], "EOF"))
            break;
        if (l > 8 && !strcmp(rd->tok[0] + l - 8, "_SECTION"))
            rc = vrp_cvrp_section(rd, &c);
        else
            rc = vrp_cvrp_keyword(rd, &c);
        if (rc) {
            vrp_instance_free(c.inst);
            return -1;
        }
    }
    const char *missing = got < 0           ? ""
                          : !c.dimension    ? "DIMENSION"
                          : !c.capacity     ? "CAPACITY"
                          : !c.have_coords  ? "NODE_COORD_SECTION"
                          : !c.have_demands ? "DEMAND_SECTION"
                                            : NULL;
    if (missing) {
        if (*missing)
            vrp_fail(rd, "missing %s", missing);
        vrp_instance_free(c.inst);
        return -1;
    }
    vrp_instance *inst = c.inst;
    snprintf(inst->name, sizeof(inst->name), "%s", c.name);
    inst->format = VRP_FORMAT_CVRPLIB;
    inst->cost_decimals = 0;
    for (int i = 0; i < inst->n_nodes; i++)
        inst->nodes[i].ext_id = i;
    inst->types[0].cap_weight = c.capacity;
    inst->types[0].count = c.vehicles ? (int)c.vehicles : VRP_UNLIMITED;
    if (inst->nodes[0].demand != 0) {
        vrp_fail(rd, "the depot (node 1) has a non-zero demand");
        vrp_instance_free(inst);
        return -1;
    }
    if (vrp_instance_euclid(inst, 1)) {
        vrp_fail(rd, "out of memory for a %d-node matrix", inst->n_nodes);
        vrp_instance_free(inst);
        return -1;
    }
    *out = inst;
    return 0;
}

/* ---- Solomon ---- */

static int vrp_cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int vrp_solomon_expect(vrp_reader *rd, const char *word)
{
    int got = vrp_next_content(rd);
    if (got < 0)
        return -1;
    if (got == 0)
        return vrp_fail(rd, "file ends where '%s' was expected", word);
    if (strcmp(rd->tok[0], word))
        return vrp_fail(rd, "expected '%s', got '%s'", word, rd->tok[0]);
    return 0;
}

/* Parses a row of 7 numbers into nd. */
static int vrp_solomon_row(vrp_reader *rd, vrp_node *nd)
{
    double v[7];
    if (rd->ntok != 7)
        return vrp_fail(rd,
                        "expected 7 fields (CUST NO., X, Y, DEMAND, READY, DUE, SERVICE), "
                        "got %d",
                        rd->ntok);
    for (int i = 0; i < 7; i++)
        if (vrp_to_double(rd->tok[i], &v[i]))
            return vrp_fail(rd, "bad number '%s'", rd->tok[i]);
    if (v[0] != floor(v[0]) || v[0] < 0 || v[0] > 1e15)
        return vrp_fail(rd, "CUST NO. must be a non-negative integer, got '%s'", rd->tok[0]);
    if (v[3] != floor(v[3]) || v[3] < 0 || v[3] > 1e15)
        return vrp_fail(rd, "DEMAND must be a non-negative integer, got '%s'", rd->tok[3]);
    if (v[4] < 0 || v[5] < v[4])
        return vrp_fail(rd, "bad time window [%s, %s]", rd->tok[4], rd->tok[5]);
    if (v[6] < 0)
        return vrp_fail(rd, "negative service time '%s'", rd->tok[6]);
    memset(nd, 0, sizeof(*nd));
    nd->ext_id = (long)v[0];
    nd->x = v[1];
    nd->y = v[2];
    nd->demand = (long)v[3];
    nd->ready = v[4];
    nd->due = v[5];
    nd->service = v[6];
    return 0;
}

static int vrp_solomon_check_ids(vrp_reader *rd, const vrp_node *nodes, int n)
{
    long *ids = malloc((size_t)n * sizeof(*ids));
    if (!ids)
        return vrp_fail(rd, "out of memory");
    for (int i = 0; i < n; i++)
        ids[i] = nodes[i].ext_id;
    qsort(ids, (size_t)n, sizeof(*ids), vrp_cmp_long);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (ids[i] == ids[i - 1])
            rc = vrp_fail(rd, "CUST NO. %ld appears twice", ids[i]);
    free(ids);
    return rc;
}

static int vrp_solomon_body(vrp_reader *rd, vrp_node **nodes_out, int *n_out)
{
    int cap = 128, n = 0, got;
    vrp_node *nodes = malloc((size_t)cap * sizeof(*nodes));
    if (!nodes)
        return vrp_fail(rd, "out of memory");
    while ((got = vrp_next_content(rd)) == 1) {
        if (n == cap) {
            vrp_node *bigger =
                cap < VRP_MAX_NODES ? realloc(nodes, 2 * (size_t)cap * sizeof(*nodes)) : NULL;
            if (!bigger) {
                free(nodes);
                return vrp_fail(rd, "too many customers");
            }
            nodes = bigger;
            cap *= 2;
        }
        if (vrp_solomon_row(rd, &nodes[n])) {
            free(nodes);
            return -1;
        }
        n++;
    }
    if (got < 0 || n < 1 || vrp_solomon_check_ids(rd, nodes, n)) {
        if (got == 0 && n < 1)
            vrp_fail(rd, "no depot row after the CUSTOMER header");
        free(nodes);
        return -1;
    }
    *nodes_out = nodes;
    *n_out = n;
    return 0;
}

static int vrp_parse_solomon(vrp_reader *rd, vrp_instance **out)
{
    char name[64];
    long number, capacity;
    int got = vrp_next_content(rd);
    if (got <= 0)
        return got < 0 ? -1 : vrp_fail(rd, "empty file");
    snprintf(name, sizeof(name), "%s", rd->tok[0]);
    if (vrp_solomon_expect(rd, "VEHICLE") || vrp_solomon_expect(rd, "NUMBER"))
        return -1;
    got = vrp_next_content(rd);
    if (got <= 0)
        return got < 0 ? -1 : vrp_fail(rd, "file ends before the vehicle number and capacity");
    if (rd->ntok != 2 || vrp_to_long(rd->tok[0], &number) || vrp_to_long(rd->tok[1], &capacity) ||
        number < 1 || number > VRP_MAX_NODES || capacity < 1)
        return vrp_fail(rd, "expected two positive integers: vehicle NUMBER and CAPACITY");
    if (vrp_solomon_expect(rd, "CUSTOMER") || vrp_solomon_expect(rd, "CUST"))
        return -1;
    vrp_node *nodes = NULL;
    int n = 0;
    if (vrp_solomon_body(rd, &nodes, &n))
        return -1;
    vrp_instance *inst = vrp_instance_new(n, 1);
    if (!inst) {
        free(nodes);
        return vrp_fail(rd, "out of memory");
    }
    memcpy(inst->nodes, nodes, (size_t)n * sizeof(*nodes));
    free(nodes);
    snprintf(inst->name, sizeof(inst->name), "%s", name);
    inst->format = VRP_FORMAT_SOLOMON;
    inst->cost_decimals = 2;
    inst->types[0].cap_weight = capacity;
    inst->types[0].count = (int)number;
    inst->types[0].shift_start = inst->nodes[0].ready;
    inst->types[0].shift_end = inst->nodes[0].due;
    if (vrp_instance_euclid(inst, 0)) {
        vrp_instance_free(inst);
        return vrp_fail(rd, "out of memory for a %d-node matrix", n);
    }
    *out = inst;
    return 0;
}

/* ---- entry points ---- */

static int vrp_has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n >= e && !strcmp(name + n - e, ext);
}

/* CVRPLIB files start with "KEY : value"; Solomon files have a VEHICLE line. */
static vrp_format vrp_detect(const char *name, const char *text, size_t len)
{
    vrp_reader rd = {.name = name, .p = text, .end = text + len};
    char err[8];
    rd.err = err;
    rd.errlen = sizeof(err);
    if (vrp_next_content(&rd) == 1) {
        for (int i = 0; i < rd.ntok; i++)
            if (strchr(rd.tok[i], ':'))
                return VRP_FORMAT_CVRPLIB;
    }
    for (int i = 0; i < 4 && vrp_next_content(&rd) == 1; i++)
        if (!strcmp(rd.tok[0], "VEHICLE"))
            return VRP_FORMAT_SOLOMON;
    if (vrp_has_ext(name, ".vrp"))
        return VRP_FORMAT_CVRPLIB;
    if (vrp_has_ext(name, ".txt"))
        return VRP_FORMAT_SOLOMON;
    return VRP_FORMAT_OTHER;
}

int vrp_parse_buffer(const char *name, const char *text, size_t len, vrp_instance **out, char *err,
                     size_t errlen)
{
    vrp_reader rd = {.name = name, .p = text, .end = text + len, .err = err, .errlen = errlen};
    *out = NULL;
    switch (vrp_detect(name, text, len)) {
    case VRP_FORMAT_CVRPLIB:
        return vrp_parse_cvrp(&rd, out);
    case VRP_FORMAT_SOLOMON:
        return vrp_parse_solomon(&rd, out);
    case VRP_FORMAT_OTHER:
        break;
    }
    rd.line = 1;
    return vrp_fail(&rd, "not a CVRPLIB .vrp nor a Solomon .txt instance");
}

int vrp_parse_file(const char *path, vrp_instance **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text) {
        len += fread(text + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *bigger = cap < ((size_t)1 << 30) ? realloc(text, cap * 2) : NULL;
        if (!bigger) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        snprintf(err, errlen, "%s:0: cannot read: %s", path, text ? "I/O error" : "too large");
        free(text);
        return -1;
    }
    int rc = vrp_parse_buffer(path, text, len, out, err, errlen);
    free(text);
    return rc;
}
