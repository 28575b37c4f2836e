/* Step timings, and the fault-injection hook of the tests.
 *
 * TEST ONLY: HOTPATCH_TEST_KILL_AT=STEP (or STEP:N, e.g. jump:2 = right
 * after the second jump is written) makes hotpatch SIGKILL itself there, as
 * an OOM kill or a power-user's kill -9 would; HOTPATCH_TEST_PAUSE_AT=STEP
 * makes it sleep 3 s there (so that a test can kill the target while
 * hotpatch holds it).  Both exist so that tests/integration/faults.sh can
 * prove every step boundary leaves the target safe; they read only the
 * environment of the hotpatch process and do nothing when unset.  Named in
 * README's limits; deliberately not in --help. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include "common/common.h"
#include "apply/steps.h"

static const char *const names[HP_STEP_N] = {
	[HP_STEP_ATTACH] = "attach", [HP_STEP_CHECK] = "check", [HP_STEP_LOAD] = "load",
	[HP_STEP_STOP] = "stop",     [HP_STEP_JUMP] = "jump",   [HP_STEP_LEDGER] = "ledger",
	[HP_STEP_RESUME] = "resume", [HP_STEP_UNMAP] = "unmap", [HP_STEP_DETACH] = "detach",
};

const char *hp_step_name(int step)
{
	return step >= 0 && step < HP_STEP_N ? names[step] : "?";
}

static void test_hook(enum hp_step step, unsigned n)
{
	const char *kill_at = getenv("HOTPATCH_TEST_KILL_AT");
	const char *pause_at = getenv("HOTPATCH_TEST_PAUSE_AT");
	char here[32];

	if (!kill_at && !pause_at)
		return;
	if (n)
		snprintf(here, sizeof(here), "%s:%u", hp_step_name(step), n);
	else
		snprintf(here, sizeof(here), "%s", hp_step_name(step));
	if (pause_at && !strcmp(pause_at, here)) {
		struct timespec ts = { 3, 0 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (kill_at && !strcmp(kill_at, here))
		kill(getpid(), SIGKILL);
}

void hp_steps__start(struct hp_steps *s, double *ms, int revert)
{
	s->ms = ms;
	s->last = hp_now_ms();
	s->done = -1;
	s->revert = revert;
}

enum hp_step hp_steps__current(const struct hp_steps *s)
{
	int next = s->done + 1;

	/* Apply has no unmap step, revert no load step. */
	if ((next == HP_STEP_LOAD && s->revert) || (next == HP_STEP_UNMAP && !s->revert))
		next++;
	return next < HP_STEP_N ? (enum hp_step)next : HP_STEP_DETACH;
}

void hp_steps__end(struct hp_steps *s, enum hp_step step)
{
	double now = hp_now_ms();

	s->ms[step] += now - s->last;
	s->last = now;
	s->done = step;
	test_hook(step, 0);
	/* a pause of the hook is no part of the next step */
	s->last = hp_now_ms();
}

void hp_steps__point(enum hp_step step, unsigned n)
{
	test_hook(step, n);
}
