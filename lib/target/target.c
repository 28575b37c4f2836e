/* A live process: opening it, its memory and its maps. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include "common/common.h"
#include "target/target.h"

int hp_proc_state(pid_t pid, char *ret_state)
{
	char path[64], buf[512];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	/* The command name may contain spaces and parentheses: the state follows the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	*ret_state = p[2];
	return 0;
}

static int alive(pid_t tid)
{
	char state;

	return hp_proc_state(tid, &state) == 0 && state != 'Z' && state != 'X';
}

int hp_proc_live_id(pid_t pid, pid_t *ret_id)
{
	char path[64];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	if (alive(pid)) {
		*ret_id = pid;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -HP_E_GONE;
	while (!found && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid > 0 && tid != pid && alive(tid))
			found = tid;
	}
	closedir(d);
	if (!found)
		return -HP_E_GONE;
	*ret_id = found;
	return 0;
}

pid_t hp_target__proc_id(struct hp_target *t)
{
	/* The thread we look through may have exited since: take another. */
	if (t->proc_id != t->pid && !alive(t->proc_id))
		hp_proc_live_id(t->pid, &t->proc_id);
	return t->proc_id;
}

int hp_target__exited(struct hp_target *t)
{
	for (int i = 0;; i++) {
		char path[64];
		struct dirent *de;
		int live = 0, dead = 0;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
		d = opendir(path);
		if (!d)
			return 1;
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0)
				continue;
			if (alive(tid))
				live++;
			else if (tid != t->pid || t->proc_id == t->pid)
				dead++; /* not a main thread that had exited alone before */
		}
		closedir(d);
		if (!live)
			return 1;
		/* Some threads dead, some not (yet): look again for up to 100 ms. */
		if (!dead || i == 50)
			return 0;
		usleep(2000);
	}
}

static int open_target(pid_t pid, int allow_stopped, struct hp_target **ret);

int hp_target__open(pid_t pid, struct hp_target **ret)
{
	return open_target(pid, 0, ret);
}

int hp_target__open_any(pid_t pid, struct hp_target **ret)
{
	return open_target(pid, 1, ret);
}

static int open_target(pid_t pid, int allow_stopped, struct hp_target **ret)
{
	struct hp_target *t;
	char path[64], state = 0;
	pid_t id = pid;
	int r;

	if (pid <= 0)
		return hp_err(-EINVAL, "invalid pid %d", pid);
	r = hp_proc_state(pid, &state);
	if (r == -ENOENT || r == -ESRCH)
		return hp_err(-HP_E_GONE, "no process %d", pid);
	if (r < 0)
		return hp_err(r, "cannot read /proc/%d/stat: %s", pid, strerror(-r));
	/* A zombie main thread is not a dead process: after pthread_exit()
	 * the other threads run on.  Their state is the process's. */
	if ((state == 'Z' || state == 'X') &&
	    (hp_proc_live_id(pid, &id) < 0 || hp_proc_state(id, &state) < 0))
		return hp_err(-HP_E_GONE, "process %d is exiting (state %c)", pid, state);
	/* A job-control stop would turn our single-steps into group-stops: refuse
	 * rather than resume a process someone deliberately stopped. */
	if (state == 'T' && !allow_stopped)
		return hp_err(-HP_E_UNSUPPORTED,
			      "process %d is stopped (SIGSTOP or a terminal stop); continue it (kill -CONT %d) and try again",
			      pid, pid);

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->proc_id = id;
	snprintf(path, sizeof(path), "/proc/%d/mem", id);
	t->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (t->mem_fd < 0) {
		r = -errno;
		free(t);
		if (r == -ENOENT)
			return hp_err(-HP_E_GONE, "no process %d", pid);
		return hp_err(r, "cannot open %s: %s (root or CAP_SYS_PTRACE needed)", path,
			      strerror(-r));
	}
	/* While we hold the process, we must not be starved by its threads:
	 * with more runnable threads than cores a normally scheduled tracer
	 * waits a time slice for every wake-up (SCHED_FIFO where permitted). */
	hp_target__raise_priority(t);
	/* While we hold the process: tracee state changes arrive as SIGCHLD
	 * and stay pending for sigtimedwait() (hp_target__waitpid); and a
	 * Ctrl-C, hang-up or kill(TERM) waits until the process is ours no
	 * more, so it never finds a borrowed thread or half the jumps written.
	 * (SIGKILL cannot be held back.)  A signal the caller handles itself
	 * is left to its handler, which must only take note (the CLI's sets
	 * the cancel flag of hp_apply_opts): its default action would end us
	 * mid-change, a handler does not. */
	{
		static const int deferred[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGCHLD);
		for (size_t i = 0; i < sizeof(deferred) / sizeof(deferred[0]); i++) {
			struct sigaction sa;

			if (sigaction(deferred[i], NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
			    sa.sa_handler != SIG_IGN)
				continue;
			sigaddset(&set, deferred[i]);
		}
		pthread_sigmask(SIG_BLOCK, &set, &t->saved_mask);
	}
	*ret = t;
	return 0;
}

void hp_target__close(struct hp_target *t)
{
	if (!t)
		return;
	hp_target__detach_all(t);
	hp_target__lower_priority(t);
	/* Pending signals are delivered now, the process being consistent. */
	pthread_sigmask(SIG_SETMASK, &t->saved_mask, NULL);
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	if (t->scratch)
		munmap(t->scratch, t->scratch_len);
	free(t->threads);
	free(t);
}

uint8_t *hp_target__scratch(struct hp_target *t, size_t len)
{
	void *m;

	if (len <= t->scratch_len)
		return t->scratch;
	len = HP_ALIGN_UP(len, 1u << 16);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	if (m == MAP_FAILED)
		return t->scratch;
	if (t->scratch)
		munmap(t->scratch, t->scratch_len);
	t->scratch = m;
	t->scratch_len = len;
	return t->scratch;
}

int hp_target__read(struct hp_target *t, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(t->mem_fd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* process_vm_readv() takes up to IOV_MAX ranges per call and stops at the
 * first one it cannot read whole: those after it are retried one by one
 * through /proc/pid/mem (which also reads what process_vm_readv may not:
 * a process in another user namespace, say). */
size_t hp_target__read_many(struct hp_target *t, struct hp_read_req *reqs, size_t n)
{
	enum { BATCH = 1024 };	/* IOV_MAX */
	struct iovec local[BATCH], remote[BATCH];
	size_t done = 0, nok = 0;

	while (done < n) {
		size_t k = n - done < BATCH ? n - done : BATCH, whole = 0;
		ssize_t got;

		for (size_t i = 0; i < k; i++) {
			local[i] = (struct iovec){ reqs[done + i].buf, reqs[done + i].len };
			remote[i] = (struct iovec){ (void *)(uintptr_t)reqs[done + i].addr,
						    reqs[done + i].len };
		}
		for (size_t i = 0; i < k; i++)
			reqs[done + i].ok = 0;
		got = process_vm_readv(t->pid, local, k, remote, k, 0);
		if (got < 0 && errno != EFAULT) {
			/* Not allowed or not there at all: /proc/pid/mem for every one. */
			for (; done < n; done++)
				nok += reqs[done].ok = hp_target__read(t, reqs[done].addr, reqs[done].buf,
								       reqs[done].len) == 0;
			break;
		}
		for (size_t i = 0; got > 0 && i < k && (size_t)got >= reqs[done + i].len; i++) {
			got -= (ssize_t)reqs[done + i].len;
			reqs[done + i].ok = 1;
			whole++;
		}
		/* The first one not read whole: on its own, then the batch goes on. */
		if (whole < k) {
			struct hp_read_req *r = &reqs[done + whole];

			r->ok = hp_target__read(t, r->addr, r->buf, r->len) == 0;
			whole++;
		}
		for (size_t i = 0; i < whole; i++)
			nok += reqs[done + i].ok;
		done += whole;
	}
	return nok;
}

int hp_target__write(struct hp_target *t, uint64_t addr, const void *buf, size_t len)
{
	/* /proc/pid/mem writes with FOLL_FORCE: read-only private text is
	 * copied-on-write like a debugger's breakpoint, shared mappings are not. */
	ssize_t n = pwrite(t->mem_fd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int hp_target__maps(struct hp_target *t, struct hp_map **ret, size_t *ret_n)
{
	char path[64], line[4096];
	struct hp_map *maps = NULL, *m;
	size_t n = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", hp_target__proc_id(t));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? hp_err(-HP_E_GONE, "process %d exited", t->pid) : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, inode;
		char perms[8], dev[32];
		unsigned major = 0, minor = 0;
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &off, dev,
			   &inode, &pos) < 6)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			m = realloc(maps, cap * sizeof(*maps));
			if (!m) {
				free(maps);
				fclose(f);
				return -ENOMEM;
			}
			maps = m;
		}
		m = &maps[n++];
		memset(m, 0, sizeof(*m));
		m->start = start;
		m->end = end;
		m->offset = off;
		m->inode = inode;
		if (sscanf(dev, "%x:%x", &major, &minor) == 2)
			m->dev = makedev(major, minor);
		memcpy(m->perms, perms, 4);
		if (pos > 0) {
			char *p = line + pos;

			p[strcspn(p, "\n")] = 0;
			snprintf(m->path, sizeof(m->path), "%s", p);
		}
	}
	fclose(f);
	*ret = maps;
	*ret_n = n;
	return 0;
}

int hp_target__stack_bounds(const struct hp_map *maps, size_t n, uint64_t sp, uint64_t *ret_lo,
			    uint64_t *ret_hi)
{
	for (size_t i = 0; i < n; i++) {
		if (sp >= maps[i].start && sp < maps[i].end) {
			*ret_lo = sp;
			*ret_hi = maps[i].end;
			return 0;
		}
	}
	return -ENOENT;
}

/* VmSize of the process in bytes (through a live thread: a zombie main
 * thread shows none), 0 when unknown. */
static uint64_t vm_size(struct hp_target *t)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", hp_target__proc_id(t));
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

int hp_target__as_full(struct hp_target *t, uint64_t len, char *buf, size_t n)
{
	struct rlimit lim;
	uint64_t used;

	if (prlimit(t->pid, RLIMIT_AS, NULL, &lim) < 0 || lim.rlim_cur == RLIM_INFINITY)
		return 0;
	used = vm_size(t);
	if (!used || used + len <= lim.rlim_cur)
		return 0;
	snprintf(buf, n,
		 "its address-space limit (RLIMIT_AS) is %llu KiB, it uses %llu KiB and the patch needs %llu KiB more (raise it: prlimit --pid %d --as=SOFT:HARD)",
		 (unsigned long long)lim.rlim_cur >> 10, (unsigned long long)used >> 10,
		 (unsigned long long)len >> 10, t->pid);
	return 1;
}
