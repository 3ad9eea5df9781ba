// Baseline x86-64 (SSE2) build of the ALS row solver.
#define ENCORE_SOLVE_ROWS SolveRowsBaseline
#define ENCORE_ADD_GRAM AddGramBaseline
#include "offline/als_kernel_impl.inc"
