// AVX2+FMA build of the ALS row solver (compiled with -mavx2 -mfma; called only when the CPU
// has both).
#define ENCORE_SOLVE_ROWS SolveRowsAvx2
#define ENCORE_ADD_GRAM AddGramAvx2
#include "offline/als_kernel_impl.inc"
