/* The journal writer.  One write(2) per record on an O_APPEND descriptor,
 * so concurrent hotpatch commands never interleave inside a line. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include "common/common.h"
#include "journal/journal.h"
#include "target/target.h"

const char *hp_journal__path(void)
{
	const char *p = getenv("HOTPATCH_JOURNAL");

	return p && *p ? p : HP_JOURNAL_DEFAULT;
}

static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int hp_journal__append(const char *path, const struct hp_journal_rec *rec)
{
	char line[4096], exe[PATH_MAX] = "", link[64], sha[65] = "", when[40];
	size_t len = 0;
	struct timespec ts;
	struct tm tm;
	ssize_t n;
	int fd, r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (rec->pid > 0) {
		pid_t id = rec->pid;

		hp_proc_live_id(rec->pid, &id);	/* a zombie main thread shows no exe */
		snprintf(link, sizeof(link), "/proc/%d/exe", id);
		n = readlink(link, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
	}
	if (rec->sha256)
		hp_hex(rec->sha256, 32, sha);

	put(line, sizeof(line), &len, "{\"time\":\"%s.%03ldZ\",\"uid\":%u,\"op\":", when,
	    ts.tv_nsec / 1000000, (unsigned)getuid());
	hp_json_str(line, sizeof(line), &len, rec->op);
	put(line, sizeof(line), &len, ",\"patch_id\":");
	hp_json_str(line, sizeof(line), &len, rec->patch_id ? rec->patch_id : "");
	put(line, sizeof(line), &len, ",\"sha256\":\"%s\",\"key_id\":", sha);
	hp_json_str(line, sizeof(line), &len, rec->key_id ? rec->key_id : "");
	put(line, sizeof(line), &len, ",\"pid\":%d,\"exe\":", (int)rec->pid);
	hp_json_str(line, sizeof(line), &len, exe);
	put(line, sizeof(line), &len, ",\"build_id\":");
	hp_json_str(line, sizeof(line), &len, rec->build_id ? rec->build_id : "");
	put(line, sizeof(line), &len, ",\"result\":");
	hp_json_str(line, sizeof(line), &len, rec->result);
	put(line, sizeof(line), &len, ",\"reason\":");
	hp_json_str(line, sizeof(line), &len, rec->reason ? rec->reason : "");
	put(line, sizeof(line), &len, "}\n");
	if (line[len - 1] != '\n') { /* truncated: keep one line per record */
		line[len - 1] = '\n';
	}

	r = make_parent(path);
	if (r < 0)
		return hp_err(r, "cannot create the directory of the journal %s: %s", path, strerror(-r));
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hp_err(-errno, "cannot open the journal %s: %s", path, strerror(errno));
	n = write(fd, line, len);
	if (n != (ssize_t)len) {
		r = n < 0 ? -errno : -ENOSPC;
		/* Do not leave half a line behind. */
		if (n > 0) {
			struct stat st;

			if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size - n) < 0)
				r = r ? r : -errno;
		}
		close(fd);
		return hp_err(r, "cannot write the journal %s: %s", path, strerror(-r));
	}
	if (fsync(fd) < 0) {
		r = -errno;
		close(fd);
		return hp_err(r, "cannot write the journal %s: %s", path, strerror(-r));
	}
	if (close(fd) < 0)
		return hp_err(-errno, "cannot write the journal %s: %s", path, strerror(errno));
	return 0;
}
