/*
 * pcplab-pft: a page fault test with the semantics of mmtests' pft, written for pcplab.
 *
 * This is pcplab's own program (same licence as pcplab), not a copy of pft.  What it measures and
 * prints follows the behaviour documented for gormanm/pft@b5cfe1be (pft.c) as mmtests@09b91ce9
 * runs it (shellpack_src/src/pft/pft-bench: "./pft -m $PFT_MAPPING_SIZE -t|-n N", 30 runs per
 * count) and parses it (bin/lib/MMTests/ExtractPft.pm); see ../shared/knowledge/mmtests-pft.md
 * sections 1-2 and pcplab/measure/pft.py:
 *
 *  - one private anonymous mapping of the whole -m size, made before timing and not touched;
 *  - the pages are split evenly between N workers with pft's ROUND_UP bit-mask rounding (exact
 *    for power-of-two N), and every worker writes one byte per cache line of the first -c cache
 *    lines (default 1) of each page of its slice: one zero-fill minor fault per page;
 *  - workers are threads (-t, one mm) or processes (-n, one mm each); N is clipped to the CPUs
 *    this process may run on; worker 0 runs in the launching process;
 *  - elapsed = latest worker end - earliest worker start; user and system = the sum over the
 *    workers of their own CPU time during the loop (RUSAGE_THREAD), so system can exceed elapsed;
 *  - faults/sec = pages / elapsed, faults/cpu = pages / (user + system), from the computed page
 *    count, with a warning if the measured minor faults differ from it by more than 10 %;
 *  - the result is one line: " %3ld %4ld %3ld %8.2fs %8.2fs %8.2fs  %10.3f %10.3f" (GiB,
 *    workers, cache lines, user, system, elapsed, faults/cpu, faults/sec).
 *
 * Differences, on purpose: the wall clock is CLOCK_MONOTONIC (pft reads CLOCK_REALTIME; the two
 * differ only if the clock is set during a run); the mapping is madvise(MADV_NOHUGEPAGE)d, which
 * gives this mapping the base pages mmtests' pft config asks for by setting THP to "never"
 * system-wide (config-workload-pft-threads: PFT_PAGESIZES=base), without touching the system
 * setting; -x adds a second line with full-precision figures for pcplab (it contains letters, so
 * ExtractPft skips it).  Options mmtests does not use (mempolicies, mlock, SysV shm, affinity,
 * SCHED_FIFO) are not implemented.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 128 /* pft's MAX_TESTS; mmtests also caps PFT_MAX_CLIENTS at 128 */

struct worker_record {
	double start;      /* monotonic seconds at the loop's start */
	double end;        /* and at its end */
	double user;       /* CPU seconds in user mode during the loop */
	double system;     /* and in the kernel */
	long minflt;       /* minor faults during the loop */
	double run_delay;  /* seconds runnable but waiting for a CPU (schedstat), -1 if unknown */
	volatile int ready;
	volatile int done;
};

struct shared_area {
	volatile int go;
	volatile int failed;
	struct worker_record rec[MAX_WORKERS];
};

static struct shared_area *shared;
static char *region;
static long page_size, line_size, pages_per_worker, lines_per_page = 1;

static void die(const char *what)
{
	fprintf(stderr, "pcplab-pft: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + tv->tv_usec / 1e6;
}

/* parse "N", "Nk", "Nm", "Ng" (binary multiples, as pft's -m accepts) */
static long parse_size(const char *text)
{
	char *end;
	long long value;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno || end == text || value <= 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': value <<= 10; end++; break;
	case 'm': case 'M': value <<= 20; end++; break;
	case 'g': case 'G': value <<= 30; end++; break;
	default: return -1;
	}
	if (*end != '\0' || value <= 0)
		return -1;
	return (long)value;
}

static double run_delay_now(void);

/* the fault loop of worker i over its slice of the region */
static void run_worker(int i)
{
	struct worker_record *rec = &shared->rec[i];
	struct rusage before, after;
	char *base = region + (size_t)i * pages_per_worker * page_size;
	long p, c;
	double delay;

	rec->ready = 1;
	while (!shared->go)
		sched_yield();
	delay = run_delay_now();
	if (getrusage(RUSAGE_THREAD, &before))
		die("getrusage");
	rec->start = now();
	for (p = 0; p < pages_per_worker; p++) {
		volatile char *page = (volatile char *)(base + (size_t)p * page_size);

		for (c = 0; c < lines_per_page; c++)
			page[c * line_size] = 'r';
	}
	rec->end = now();
	if (getrusage(RUSAGE_THREAD, &after))
		die("getrusage");
	rec->user = tv_seconds(&after.ru_utime) - tv_seconds(&before.ru_utime);
	rec->system = tv_seconds(&after.ru_stime) - tv_seconds(&before.ru_stime);
	rec->minflt = after.ru_minflt - before.ru_minflt;
	rec->run_delay = delay < 0 ? -1 : run_delay_now() - delay;
	rec->done = 1;
}

/* seconds this thread has waited on a run queue (the 2nd field of /proc/thread-self/schedstat:
 * time runnable but not running), -1 without schedstats; the share of the wall time other work on
 * the host took from pft, which neither rusage nor pft reports */
static double run_delay_now(void)
{
	unsigned long long on_cpu, waited;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");
	int got;

	if (!f)
		return -1;
	got = fscanf(f, "%llu %llu", &on_cpu, &waited);
	fclose(f);
	return got == 2 ? waited / 1e9 : -1;
}

static void *thread_main(void *arg)
{
	run_worker((int)(intptr_t)arg);
	return NULL;
}

static int cpus_allowed(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return (int)sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&set);
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s -m BYTES[k|m|g] (-t THREADS | -n PROCESSES) [-c LINES] [-T] [-x]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	long bytes = -1, nr = 1, pages, gbyte, mapped;
	int use_processes = 0, title = 0, extra = 0, opt, i;
	pthread_t threads[MAX_WORKERS];
	pid_t pids[MAX_WORKERS];
	double first = 0, last = 0, user = 0, system = 0, elapsed;
	long minflt = 0;
	double run_delay = 0;

	while ((opt = getopt(argc, argv, "m:t:n:c:Tx")) != -1) {
		switch (opt) {
		case 'm': bytes = parse_size(optarg); if (bytes < 0) usage(argv[0]); break;
		case 't': nr = atol(optarg); use_processes = 0; break;
		case 'n': nr = atol(optarg); use_processes = 1; break;
		case 'c': lines_per_page = atol(optarg); break;
		case 'T': title = 1; break;
		case 'x': extra = 1; break;
		default: usage(argv[0]);
		}
	}
	if (bytes < 0 || nr < 1 || lines_per_page < 1 || optind != argc)
		usage(argv[0]);
	if (nr > MAX_WORKERS) {
		fprintf(stderr, "pcplab-pft: %ld workers clipped to %d\n", nr, MAX_WORKERS);
		nr = MAX_WORKERS;
	}
	if (nr > cpus_allowed()) {
		fprintf(stderr, "pcplab-pft: clipping workers to the %d CPUs allowed\n", cpus_allowed());
		nr = cpus_allowed();
	}
	page_size = sysconf(_SC_PAGESIZE);
	line_size = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
	if (line_size <= 0)
		line_size = 64;
	if (lines_per_page > page_size / line_size)
		lines_per_page = page_size / line_size;

	/* pft's split: pages of the page-aligned size, ROUND_UP(pages, nr) / nr per worker, where
	 * ROUND_UP is (x + y - 1) & ~(y - 1) -- a power-of-two rounding applied to any y */
	pages = (bytes + page_size - 1) / page_size;
	pages_per_worker = ((pages + nr - 1) & ~(nr - 1)) / nr;
	if (pages_per_worker < 1) {
		fprintf(stderr, "pcplab-pft: mapping too small: need at least one page per worker\n");
		return 2;
	}
	pages = pages_per_worker * nr;
	gbyte = (pages * page_size + page_size * nr) / (1024L * 1024 * 1024);

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap of the shared area");
	memset((void *)shared, 0, sizeof(*shared));
	mapped = pages * page_size;
	region = mmap(NULL, (size_t)mapped, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (region == MAP_FAILED)
		die("mmap of the test region");
#ifdef MADV_NOHUGEPAGE
	madvise(region, (size_t)mapped, MADV_NOHUGEPAGE);
#endif

	for (i = 1; i < nr; i++) {
		if (use_processes) {
			pids[i] = fork();
			if (pids[i] < 0)
				die("fork");
			if (pids[i] == 0) {
				run_worker(i);
				_exit(0);
			}
		} else if (pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)i)) {
			die("pthread_create");
		}
	}
	for (i = 1; i < nr; i++)
		while (!shared->rec[i].ready)
			sched_yield();
	shared->go = 1;
	run_worker(0);
	for (i = 1; i < nr; i++) {
		if (use_processes) {
			int status;

			if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
				shared->failed = 1;
		} else {
			pthread_join(threads[i], NULL);
		}
	}
	if (shared->failed) {
		fprintf(stderr, "pcplab-pft: a worker failed\n");
		return 1;
	}
	for (i = 0; i < nr; i++) {
		struct worker_record *rec = &shared->rec[i];

		if (i == 0 || rec->start < first)
			first = rec->start;
		if (i == 0 || rec->end > last)
			last = rec->end;
		user += rec->user;
		system += rec->system;
		minflt += rec->minflt;
		if (rec->run_delay < 0 || run_delay < 0)
			run_delay = -1;
		else
			run_delay += rec->run_delay;
	}
	elapsed = last - first;
	if (elapsed <= 0)
		elapsed = 1e-9;
	if (labs(pages - minflt) > pages / 10)
		fprintf(stderr, "pcplab-pft: %ld minor faults measured for %ld pages (more than 10%% off)\n",
			minflt, pages);
	if (title)
		printf("  Gb  Thr CLine   User     System     Wall    flt/cpu/s fault/wsec\n");
	printf(" %3ld %4ld %3ld %8.2fs %8.2fs %8.2fs  %10.3f %10.3f\n", gbyte, nr, lines_per_page,
	       user, system, elapsed, pages / (user + system > 0 ? user + system : 1e-9),
	       pages / elapsed);
	if (extra)
		printf("pcplab-pft pages=%ld workers=%ld processes=%d page_size=%ld user=%.6f "
		       "system=%.6f elapsed=%.9f minflt=%ld run_delay=%.6f\n", pages, nr, use_processes,
		       page_size, user, system, elapsed, minflt, run_delay);
	return 0;
}
