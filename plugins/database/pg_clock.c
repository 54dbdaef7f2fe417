/* Durations reported in results: a monotonic clock, so a change of the
 * system time during a rollback cannot make one negative. */
#include <time.h>

#include "pg_db.h"

double pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
