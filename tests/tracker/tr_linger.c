/* tr_linger: allocates 54321 bytes, then waits for stdin to reach end of file, allocates
 * 54322 bytes, frees both and exits normally (status 0). */
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  char* a = malloc(54321);
  if (a == NULL) return 3;
  a[0] = 1;
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  char* b = malloc(54322);
  if (b == NULL) return 3;
  b[0] = 2;
  free(a);
  free(b);
  return 0;
}
