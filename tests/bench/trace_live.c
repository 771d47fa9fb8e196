// A trace of ~10^7 records with up to 3*10^6 live blocks (scripts/bench-cli: report speed and memory).
#include <stdlib.h>
static void *v[3000000];
int main(void) { for (long r = 0; r < 2; r++) { for (long i = 0; i < 3000000; i++) v[i] = malloc(32 + (i % 64)); for (long i = 0; i < 3000000; i += (r ? 2 : 1)) free(v[i]); } return 0; }
