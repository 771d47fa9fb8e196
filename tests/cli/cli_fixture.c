// A program for the CLI tests: runs its arguments as a little script, in order.
//   marker PATH    create PATH holding the pid (proves the program ran)
//   print TEXT     write TEXT and a newline to stdout
//   leak N SIZE    leak N blocks of SIZE bytes from leak_site()
//   echo           copy stdin to stdout
//   sleep MS       sleep
//   kill           SIGKILL itself
//   exit CODE      exit with CODE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) void *leak_site(size_t size) {
  void *p = malloc(size);
  memset(p, 0x5a, size);
  return p;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "marker") && i + 1 < argc) {
      FILE *f = fopen(argv[++i], "w");
      if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
      }
    } else if (!strcmp(argv[i], "print") && i + 1 < argc) {
      puts(argv[++i]);
      fflush(stdout);
    } else if (!strcmp(argv[i], "leak") && i + 2 < argc) {
      int n = atoi(argv[i + 1]);
      size_t size = (size_t)atol(argv[i + 2]);
      i += 2;
      for (int k = 0; k < n; ++k) leak_site(size);
    } else if (!strcmp(argv[i], "echo")) {
      char buf[4096];
      size_t got;
      while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, got, stdout);
      fflush(stdout);
    } else if (!strcmp(argv[i], "sleep") && i + 1 < argc) {
      usleep((useconds_t)atoi(argv[++i]) * 1000);
    } else if (!strcmp(argv[i], "kill")) {
      raise(SIGKILL);
    } else if (!strcmp(argv[i], "exit") && i + 1 < argc) {
      return atoi(argv[++i]);
    }
  }
  return 0;
}
