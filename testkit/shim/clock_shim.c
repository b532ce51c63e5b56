/*
 * A clock shift for TaskDB's test servers, loaded with LD_PRELOAD.
 *
 * It adds an offset in milliseconds, read from the 8-byte file named by
 * $TASKDB_CLOCK_FILE (mapped once, so a test can change it while the server runs), to
 * the wall clock: clock_gettime(CLOCK_REALTIME*), gettimeofday and time. The monotonic
 * clocks are left alone, as a real clock step would leave them. It calls the kernel
 * directly (no dlsym, no allocation), which is what keeps it from deadlocking
 * redis-server 7.0 at start-up the way libfaketime does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const volatile int64_t *offset_ms;
static int mapped;

static int64_t offset(void) {
    if (!__atomic_exchange_n(&mapped, 1, __ATOMIC_ACQ_REL)) {
        const char *path = getenv("TASKDB_CLOCK_FILE");
        if (path) {
            long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
            if (fd >= 0) {
                long p = syscall(SYS_mmap, NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
                syscall(SYS_close, fd);
                if (p != -1)
                    __atomic_store_n(&offset_ms, (const volatile int64_t *)p, __ATOMIC_RELEASE);
            }
        }
    }
    const volatile int64_t *o = __atomic_load_n(&offset_ms, __ATOMIC_ACQUIRE);
    return o ? *o : 0;
}

static void shift(struct timespec *ts) {
    int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + offset() * 1000000;
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
    int rc = (int)syscall(SYS_clock_gettime, clk, ts);
    if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        shift(ts);
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    if (tz)
        syscall(SYS_gettimeofday, NULL, tz);
    return rc;
}

time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
