/* vrp_sol.c: writes a solution in CVRPLIB's .sol format, the format the
 * best-known solutions of the benchmark sets are published in. */
#include "vrp.h"

void vrp_solution_print(FILE *f, const vrp_instance *inst, const vrp_solution *sol)
{
    int k = 0;
    for (int r = 0; r < sol->n_routes; r++) {
        const vrp_route *rt = &sol->routes[r];
        if (rt->n_stops == 0)
            continue;
        fprintf(f, "Route #%d:", ++k);
        for (int i = 0; i < rt->n_stops; i++)
            fprintf(f, " %ld", inst->nodes[rt->stops[i]].ext_id);
        fputc('\n', f);
    }
    fprintf(f, "Cost %.*f\n", inst->cost_decimals, sol->cost);
}
