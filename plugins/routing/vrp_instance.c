/* vrp_instance.c: building and freeing instances and solutions, and the
 * distance matrix builders (Euclidean, haversine x road factor). */
#include "vrp.h"

#include <math.h>
#include <stdlib.h>

#define VRP_EARTH_RADIUS_M 6371008.8
#define VRP_PI 3.14159265358979323846

vrp_instance *vrp_instance_new(int n_nodes, int n_types)
{
    if (n_nodes < 1 || n_types < 1)
        return NULL;
    vrp_instance *inst = calloc(1, sizeof(*inst));
    if (!inst)
        return NULL;
    inst->nodes = calloc((size_t)n_nodes, sizeof(*inst->nodes));
    inst->types = calloc((size_t)n_types, sizeof(*inst->types));
    if (!inst->nodes || !inst->types) {
        vrp_instance_free(inst);
        return NULL;
    }
    inst->n_nodes = n_nodes;
    inst->n_types = n_types;
    for (int i = 0; i < n_nodes; i++) {
        inst->nodes[i].ext_id = i;
        inst->nodes[i].due = VRP_NO_DUE;
    }
    for (int t = 0; t < n_types; t++) {
        inst->types[t].shift_end = VRP_NO_DUE;
        inst->types[t].count = VRP_UNLIMITED;
    }
    return inst;
}

static void vrp_free_matrices(vrp_instance *inst)
{
    if (inst->time != inst->dist)
        free(inst->time);
    free(inst->dist);
    inst->time = NULL;
    inst->dist = NULL;
}

void vrp_instance_free(vrp_instance *inst)
{
    if (!inst)
        return;
    vrp_free_matrices(inst);
    free(inst->nodes);
    free(inst->types);
    free(inst);
}

int vrp_instance_euclid(vrp_instance *inst, int round_nint)
{
    size_t n = (size_t)inst->n_nodes;
    double *d = malloc(n * n * sizeof(*d));
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double dx = inst->nodes[i].x - inst->nodes[j].x;
            double dy = inst->nodes[i].y - inst->nodes[j].y;
            double e = sqrt(dx * dx + dy * dy);
            d[i * n + j] = round_nint ? floor(e + 0.5) : e;
        }
    }
    vrp_free_matrices(inst);
    inst->dist = d;
    inst->time = d;
    return 0;
}

/* A point on the unit sphere; the great-circle distance between two points
 * is 2 R asin(chord / 2), which is the haversine formula in another form. */
typedef struct vrp_xyz {
    double x, y, z;
} vrp_xyz;

static vrp_xyz vrp_unit_vector(double lon_deg, double lat_deg)
{
    double r = VRP_PI / 180.0;
    double lat = lat_deg * r, lon = lon_deg * r;
    return (vrp_xyz){cos(lat) * cos(lon), cos(lat) * sin(lon), sin(lat)};
}

int vrp_instance_haversine(vrp_instance *inst, double road_factor, double speed_mps)
{
    if (!(road_factor > 0) || !(speed_mps > 0))
        return -1;
    size_t n = (size_t)inst->n_nodes;
    double *d = malloc(n * n * sizeof(*d));
    double *t = malloc(n * n * sizeof(*t));
    vrp_xyz *p = malloc(n * sizeof(*p));
    if (!d || !t || !p) {
        free(d);
        free(t);
        free(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = vrp_unit_vector(inst->nodes[i].x, inst->nodes[i].y);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double dx = p[i].x - p[j].x, dy = p[i].y - p[j].y, dz = p[i].z - p[j].z;
            double half_chord = 0.5 * sqrt(dx * dx + dy * dy + dz * dz);
            double m = road_factor * 2.0 * VRP_EARTH_RADIUS_M * asin(fmin(1.0, half_chord));
            d[i * n + j] = m;
            t[i * n + j] = m / speed_mps;
        }
    }
    free(p);
    vrp_free_matrices(inst);
    inst->dist = d;
    inst->time = t;
    return 0;
}

void vrp_solution_free(vrp_solution *sol)
{
    if (!sol)
        return;
    for (int r = 0; r < sol->n_routes; r++)
        free(sol->routes[r].stops);
    free(sol->routes);
    free(sol->unassigned);
    free(sol->reasons);
    free(sol);
}

const char *vrp_reason_str(vrp_reason reason)
{
    switch (reason) {
    case VRP_REASON_NONE:
        return "assigned";
    case VRP_REASON_TOO_HEAVY:
        return "too heavy for any vehicle";
    case VRP_REASON_TOO_BULKY:
        return "too bulky for any vehicle";
    case VRP_REASON_UNREACHABLE:
        return "no window reachable from the depot within a shift";
    case VRP_REASON_NO_VEHICLE:
        return "no vehicle left in the fleet";
    }
    return "unknown";
}
