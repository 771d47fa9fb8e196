/* tr_hello: prints a line, allocates a little (one large block: recorded in every mode),
 * exits with status 7. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char* big = malloc(1 << 20);
  char* s = malloc(64);
  if (big == NULL || s == NULL) return 3;
  strcpy(s, "hello from tr_hello");
  big[0] = s[0];
  puts(s);
  free(s);
  free(big);
  return 7;
}
