// What the kernel-socket baselines of bench/c (tcp_bulk, udp_recvmmsg) share: the stop flag
// their SIGINT/SIGTERM handler sets, the monotonic clock and the process's CPU time (user +
// system), so a run reports its rate next to what it cost.
#ifndef KERNEL_COMMON_H
#define KERNEL_COMMON_H
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
#endif
