// The harness's launcher (tests/bench/harness.py): runs PROG ARGS... as its child and writes
// the child's wait4 rusage to OUT: "maxrss_kib utime_s stime_s". wait4's rusage covers the
// child and every descendant it waited for (user+sys: their sum; ru_maxrss: the largest
// resident set of any one of them).
//
// Why a launcher: a process spawned directly by the Python harness starts life sharing (vfork)
// or copying (fork) the harness's address space, and ru_maxrss keeps that image's high-water
// mark across exec, so every program smaller than the harness would show the harness's RSS.
// This launcher is a few hundred KiB: its child's high-water mark is the program's own.
//
// usage: bench_exec OUT [-p PRELOAD] PROG ARGS...   (exits with PROG's status, 128+N after
//        signal N; -p: LD_PRELOAD for PROG only, so the launcher itself is never preloaded)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_exec OUT [-p PRELOAD] PROG ARGS...\n");
    return 125;
  }
  const char* preload = NULL;
  int prog = 2;
  if (strcmp(argv[2], "-p") == 0 && argc >= 5) {
    preload = argv[3];
    prog = 4;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_exec: fork");
    return 125;
  }
  if (pid == 0) {
    if (preload != NULL && setenv("LD_PRELOAD", preload, 1) != 0) _exit(126);
    execvp(argv[prog], argv + prog);
    perror("bench_exec: exec");
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("bench_exec: wait4");
    return 125;
  }
  FILE* out = fopen(argv[1], "w");
  if (out == NULL) {
    perror("bench_exec: open OUT");
    return 125;
  }
  fprintf(out, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
          (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
  fclose(out);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}
