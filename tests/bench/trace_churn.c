// A trace of ~10^7 records with few live blocks (scripts/bench-cli: report speed).
#include <stdlib.h>
int main(void) { void *keep[1024] = {0}; for (long i = 0; i < 5000000; i++) { int k = i & 1023; free(keep[k]); keep[k] = malloc(16 + (i % 200)); } for (int k = 0; k < 1024; k++) free(keep[k]); return 0; }
