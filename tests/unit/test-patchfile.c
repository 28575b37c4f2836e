/* Unit test of lib/patchfile: builds a small PIE target and a replacement
 * object with cc in a temporary directory, packs them with hp_pack(), checks
 * what hp_patch__open reads back against an independent reading of the raw
 * target file, then feeds the reader damaged copies of the packed file.
 * Needs no root and no live process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/common.h"
#include "elf/elf.h"
#include "patchfile/format.h"
#include "patchfile/patchfile.h"
#include "harness.h"

static char dir[] = "/tmp/hp-test-patchfile.XXXXXX";

#include "tmpdir.h"

static Elf64_Ehdr *ehdr(uint8_t *b)
{
	return (Elf64_Ehdr *)b;
}

static Elf64_Shdr *shdr(uint8_t *b, size_t i)
{
	return (Elf64_Shdr *)(b + ehdr(b)->e_shoff) + i;
}

static const char *scn_name(uint8_t *b, size_t i)
{
	return (const char *)b + shdr(b, ehdr(b)->e_shstrndx)->sh_offset + shdr(b, i)->sh_name;
}

/* Index of the section named name, 0 if none. */
static size_t scn_by_name(uint8_t *b, const char *name)
{
	for (size_t i = 1; i < ehdr(b)->e_shnum; i++)
		if (!strcmp(scn_name(b, i), name))
			return i;
	return 0;
}

static size_t scn_by_type(uint8_t *b, uint32_t type)
{
	for (size_t i = 1; i < ehdr(b)->e_shnum; i++)
		if (shdr(b, i)->sh_type == type)
			return i;
	return 0;
}

static uint8_t *scn_data(uint8_t *b, size_t i)
{
	return b + shdr(b, i)->sh_offset;
}

/* A .symtab symbol by name (first match), NULL if none. */
static Elf64_Sym *raw_sym(uint8_t *b, const char *name)
{
	size_t st = scn_by_type(b, SHT_SYMTAB);
	Elf64_Shdr *s;
	const char *strs;

	if (!st)
		return NULL;
	s = shdr(b, st);
	strs = (const char *)b + shdr(b, s->sh_link)->sh_offset;
	for (size_t i = 1; i < s->sh_size / sizeof(Elf64_Sym); i++) {
		Elf64_Sym *y = (Elf64_Sym *)(b + s->sh_offset) + i;

		if (!strcmp(strs + y->st_name, name))
			return y;
	}
	return NULL;
}

/* File bytes of [vaddr, vaddr+len), through the section headers. */
static const uint8_t *raw_vaddr(struct raw *r, uint64_t vaddr, size_t len)
{
	for (size_t i = 1; i < ehdr(r->b)->e_shnum; i++) {
		Elf64_Shdr *s = shdr(r->b, i);

		if ((s->sh_flags & SHF_ALLOC) && s->sh_type != SHT_NOBITS && vaddr >= s->sh_addr &&
		    vaddr + len <= s->sh_addr + s->sh_size)
			return r->b + s->sh_offset + (vaddr - s->sh_addr);
	}
	return NULL;
}

/* ---- the test programs ------------------------------------------------ */

static const char target_c[] =
	"#include <stdio.h>\n"
	"static int counter = 5;\n"
	"__attribute__((noipa)) int compute(int x)\n"
	"{\n"
	"	counter += x;\n"
	"	return counter * 2 + 1;\n"
	"}\n"
	"__attribute__((noipa)) void format_value(char *buf, unsigned long n, int v)\n"
	"{\n"
	"	snprintf(buf, n, \"value %d of %d\", v, counter);\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char b[64];\n"
	"	format_value(b, sizeof(b), compute(argc));\n"
	"	puts(b);\n"
	"	return 0;\n"
	"}\n";

/* The fix: references the target's static through extern, calls libc. */
static const char patch_c[] =
	"#include <stdio.h>\n"
	"extern int counter;\n"
	"int compute(int x)\n"
	"{\n"
	"	if (x > 1000)\n"
	"		x = 1000;\n"
	"	counter += x;\n"
	"	return counter * 2 + 1;\n"
	"}\n"
	"void format_value(char *buf, unsigned long n, int v)\n"
	"{\n"
	"	snprintf(buf, n, \"value %d of %d (patched)\", v, counter);\n"
	"}\n";

/* A differently named replacement, for --replace OLD=NEW. */
static const char renamed_c[] =
	"extern int counter;\n"
	"int compute_v2(int x) { return (counter += x) * 2 + 3; }\n";

/* A target whose function is too short for the jump, and one without a
 * build-id note. */
static const char tiny_c[] =
	"__attribute__((noipa)) int tiny(void) { return 0; }\n"
	"int main(void) { return tiny(); }\n";
static const char tiny_patch_c[] =
	"int tiny(void) { return 1; }\n";

/* Nothing in it exists in the target. */
static const char unrelated_c[] =
	"int brand_new_function(int x) { return x * 7; }\n";

static int build(void)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	if (write_file("target.c", target_c, strlen(target_c)) ||
	    write_file("patch.c", patch_c, strlen(patch_c)) ||
	    write_file("renamed.c", renamed_c, strlen(renamed_c)) ||
	    write_file("unrelated.c", unrelated_c, strlen(unrelated_c)) ||
	    write_file("tiny.c", tiny_c, strlen(tiny_c)) ||
	    write_file("tiny_patch.c", tiny_patch_c, strlen(tiny_patch_c)))
		return -1;
	if (sh("cd %s && cc -O2 -fcf-protection=none -fPIE -pie -Wl,--build-id -o tiny tiny.c && "
	       "gcc -O2 -c -o tiny_patch.o tiny_patch.c && "
	       "cc -O2 -fPIE -pie -Wl,--build-id=none -o target-noid target.c", dir))
		return -1;
	if (sh("cd %s && cc -O2 -g -fPIE -pie -Wl,--build-id -o target target.c", dir))
		return -1;
	if (sh("cd %s && gcc -O2 -c -o patch.o patch.c && gcc -O2 -c -o renamed.o renamed.c && "
	       "gcc -O2 -c -o unrelated.o unrelated.c", dir))
		return -1;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* The build-id as `readelf -n` prints it, as bytes. */
static int readelf_build_id(const char *file, uint8_t *out, size_t *len)
{
	char cmd[512], line[512];
	FILE *f;
	int found = -1;

	snprintf(cmd, sizeof(cmd), "readelf -n %s", file);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *h = strstr(line, "Build ID: ");
		size_t n = 0;

		if (!h || found == 0)
			continue;
		h += strlen("Build ID: ");
		while (n < 64 && h[0] && h[1] && h[0] != '\n') {
			unsigned v;

			if (sscanf(h, "%2x", &v) != 1)
				break;
			out[n++] = (uint8_t)v;
			h += 2;
		}
		*len = n;
		found = n ? 0 : -1;
	}
	pclose(f);
	return found;
}

/* ---- packing ----------------------------------------------------------- */

static const char *const cves[] = { "CVE-2024-0001", "CVE-2024-12345" };

static struct hp_pack_opts opts(const char *obj, const char *id, const char *output)
{
	static const char *objs[1];
	struct hp_pack_opts o = { 0 };

	objs[0] = path(obj);
	o.target = path("target");
	o.objs = objs;
	o.nobjs = 1;
	o.id = id;
	o.level = 3;
	o.severity = HP_SEV_IMPORTANT;
	o.cves = cves;
	o.ncves = 2;
	o.description = "clamp compute's input; say it is patched";
	o.output = path(output);
	return o;
}

static struct raw hp;	/* the packed file that the malformed suite damages */

static void test_pack_and_open(void)
{
	struct hp_pack_opts o = opts("patch.o", "fix-compute_1.2+b", "fix.hp");
	struct hp_patch *p = NULL;
	struct hp_patch_info info;
	struct raw t;
	uint8_t bid[64], bid2[64];
	size_t bid_len = 0, bid2_len = 0;
	struct hp_elf *e = NULL;
	const char *names[2] = { "compute", "format_value" };
	int seen[2] = { 0, 0 };

	hp_err_clear();
	CHECK_EQ_INT(hp_pack(&o), 0);
	if (hp_errmsg()[0])
		printf("  pack: %s\n", hp_errmsg());
	CHECK(access(path("fix.hp.tmp"), F_OK) != 0);	/* no temporary left */
	CHECK_EQ_INT(hp_patch__open(path("fix.hp"), &p), 0);
	if (!p)
		return;
	hp_patch__info(p, &info);
	CHECK_EQ_INT(info.format_version, 1);
	CHECK_EQ_INT(info.level, 3);
	CHECK_EQ_INT(info.severity, HP_SEV_IMPORTANT);
	CHECK(!strcmp(info.id, "fix-compute_1.2+b"));
	CHECK(!strcmp(info.target_name, "target"));
	CHECK(!strcmp(info.description, "clamp compute's input; say it is patched"));
	CHECK(!strcmp(info.cves, "CVE-2024-0001,CVE-2024-12345"));
	CHECK(!strcmp(info.supersedes, ""));
	CHECK_EQ_INT(info.nfuncs, 2);

	/* The build-id is the target's: as readelf prints it and as lib/elf reads it. */
	CHECK_EQ_INT(readelf_build_id(path("target"), bid, &bid_len), 0);
	CHECK_EQ_INT(bid_len, 20);	/* --build-id's default, sha1 */
	CHECK_EQ_INT(info.build_id_len, bid_len);
	CHECK(!memcmp(info.build_id, bid, bid_len));
	CHECK_EQ_INT(hp_elf__open(path("target"), &e), 0);
	if (e) {
		CHECK_EQ_INT(hp_elf__build_id(e, bid2, sizeof(bid2), &bid2_len), 0);
		CHECK_EQ_INT(bid2_len, bid_len);
		CHECK(!memcmp(bid2, bid, bid_len));
		hp_elf__close(e);
	}

	/* Each function: name, address, size and hash match the target file. */
	CHECK_EQ_INT(raw_read(path("target"), &t), 0);
	for (size_t i = 0; t.b && i < info.nfuncs; i++) {
		struct hp_patch_func f;
		Elf64_Sym *s;
		const uint8_t *code;
		uint8_t sha[32];
		size_t k;

		CHECK_EQ_INT(hp_patch__func(p, i, &f), 0);
		for (k = 0; k < 2; k++)
			if (!strcmp(f.old_name, names[k]))
				break;
		CHECK(k < 2);
		if (k == 2)
			continue;
		seen[k]++;
		CHECK(!strcmp(f.new_name, names[k]));
		CHECK(!strcmp(f.old_file, ""));	/* globals */
		CHECK_EQ_INT(f.old_sympos, 0);
		s = raw_sym(t.b, names[k]);
		CHECK(s != NULL);
		if (!s)
			continue;
		CHECK_EQ_INT(f.old_addr, s->st_value);
		CHECK_EQ_INT(f.old_size, s->st_size);
		code = raw_vaddr(&t, s->st_value, s->st_size);
		CHECK(code != NULL);
		if (!code)
			continue;
		crypto_hash_sha256(sha, code, s->st_size);
		CHECK(!memcmp(f.old_sha256, sha, 32));
	}
	CHECK_EQ_INT(seen[0], 1);
	CHECK_EQ_INT(seen[1], 1);
	{
		struct hp_patch_func f;

		CHECK_EQ_INT(hp_patch__func(p, 2, &f), -ERANGE);
		CHECK_EQ_INT(hp_patch__func(p, (size_t)-1, &f), -ERANGE);
	}

	/* The static variable resolved to the target's; snprintf left for apply. */
	{
		const struct hp_tsym *ts = hp_patch__tsym(p, "counter");
		Elf64_Sym *s = t.b ? raw_sym(t.b, "counter") : NULL;

		CHECK(ts != NULL);
		CHECK(s != NULL);
		if (ts && s) {
			CHECK_EQ_INT(ts->target_addr, s->st_value);
			CHECK(!strcmp(ts->file, "target.c"));
		}
		CHECK(hp_patch__tsym(p, "snprintf") == NULL);
	}
	free(t.b);
	hp_patch__close(p);

	/* Our three sections as the format says: PROGBITS, flags 0, aligned to 8. */
	CHECK_EQ_INT(raw_read(path("fix.hp"), &hp), 0);
	if (hp.b) {
		static const char *const ours[] = { HP_SEC_INFO, HP_SEC_FUNCS, HP_SEC_SYMS };

		CHECK_EQ_INT(ehdr(hp.b)->e_type, ET_REL);
		for (int i = 0; i < 3; i++) {
			size_t k = scn_by_name(hp.b, ours[i]);

			CHECK(k != 0);
			if (!k)
				continue;
			CHECK_EQ_INT(shdr(hp.b, k)->sh_type, SHT_PROGBITS);
			CHECK_EQ_INT(shdr(hp.b, k)->sh_flags, 0);
			CHECK_EQ_INT(shdr(hp.b, k)->sh_addralign, 8);
		}
		/* The same bytes through hp_patch__open_mem. */
		CHECK_EQ_INT(hp_patch__open_mem(hp.b, hp.n, &p), 0);
		hp_patch__close(p);
	}
	/* binutils reads it */
	CHECK_EQ_INT(sh("readelf -a %s >/dev/null 2>&1 && objdump -dr %s >/dev/null 2>&1",
			path("fix.hp"), path("fix.hp")), 0);
	hp_err_clear();
}

static void test_pack_replace(void)
{
	struct hp_patch *p = NULL;
	struct hp_patch_info info;
	struct hp_patch_func f;

	/* --replace compute: only that one, though format_value exists too */
	{
		static const char *const rep[] = { "compute" };
		struct hp_pack_opts o = opts("patch.o", "only-compute", "only.hp");

		o.replace = rep;
		o.nreplace = 1;
		o.ncves = 0;
		o.description = NULL;
		o.level = 0;	/* defaults to 1 */
		o.severity = HP_SEV_CRITICAL;
		hp_err_clear();
		CHECK_EQ_INT(hp_pack(&o), 0);
		CHECK_EQ_INT(hp_patch__open(path("only.hp"), &p), 0);
		if (p) {
			hp_patch__info(p, &info);
			CHECK_EQ_INT(info.nfuncs, 1);
			CHECK_EQ_INT(info.level, 1);
			CHECK_EQ_INT(info.severity, HP_SEV_CRITICAL);
			CHECK(!strcmp(info.cves, ""));
			CHECK(!strcmp(info.description, ""));
			CHECK_EQ_INT(hp_patch__func(p, 0, &f), 0);
			CHECK(!strcmp(f.old_name, "compute"));
			CHECK(!strcmp(f.new_name, "compute"));
			hp_patch__close(p);
		}
	}
	/* --replace compute=compute_v2 */
	{
		static const char *const rep[] = { "compute=compute_v2" };
		struct hp_pack_opts o = opts("renamed.o", "renamed", "renamed.hp");

		o.replace = rep;
		o.nreplace = 1;
		hp_err_clear();
		CHECK_EQ_INT(hp_pack(&o), 0);
		CHECK_EQ_INT(hp_patch__open(path("renamed.hp"), &p), 0);
		if (p) {
			CHECK_EQ_INT(hp_patch__func(p, 0, &f), 0);
			CHECK(!strcmp(f.old_name, "compute"));
			CHECK(!strcmp(f.new_name, "compute_v2"));
			hp_patch__close(p);
		}
	}
	hp_err_clear();
}

static int pack_fails(struct hp_pack_opts *o)
{
	int r;

	hp_err_clear();
	r = hp_pack(o);
	CHECK(r < 0);
	CHECK(hp_errmsg()[0] != 0);
	CHECK(access(o->output, F_OK) != 0);	/* nothing written */
	{
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s.tmp", o->output);
		CHECK(access(tmp, F_OK) != 0);
	}
	return r;
}

static void test_pack_errors(void)
{
	struct hp_pack_opts o;

	/* --replace of a function the patch object does not define */
	{
		static const char *const rep[] = { "no_such_function" };

		o = opts("patch.o", "e1", "e1.hp");
		o.replace = rep;
		o.nreplace = 1;
		CHECK_EQ_INT(pack_fails(&o), -HP_E_SYM_NOT_FOUND);
		CHECK(strstr(hp_errmsg(), "no_such_function") != NULL);
	}
	/* --replace OLD=NEW where the target has no OLD */
	{
		static const char *const rep[] = { "no_such_function=compute" };

		o = opts("patch.o", "e2", "e2.hp");
		o.replace = rep;
		o.nreplace = 1;
		CHECK_EQ_INT(pack_fails(&o), -HP_E_SYM_NOT_FOUND);
		CHECK(strstr(hp_errmsg(), "no_such_function") != NULL);
	}
	/* an object defining no function of the target, no --replace */
	o = opts("unrelated.o", "e3", "e3.hp");
	CHECK_EQ_INT(pack_fails(&o), -HP_E_SYM_NOT_FOUND);
	CHECK(strstr(hp_errmsg(), "--replace") != NULL);
	/* bad ids */
	o = opts("patch.o", "bad id", "e4.hp");
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	o = opts("patch.o", "../escape", "e4.hp");
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	o = opts("patch.o", "semi;colon", "e4.hp");
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	o = opts("patch.o", "", "e4.hp");
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	o = opts("patch.o", "x123456789x123456789x123456789x123456789x123456789x1234567890123",
		 "e4.hp");	/* 64 characters */
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	o = opts("patch.o", NULL, "e4.hp");
	CHECK_EQ_INT(pack_fails(&o), -EINVAL);
	/* 63 characters are fine */
	o = opts("patch.o", "x123456789x123456789x123456789x123456789x123456789x123456789012",
		 "long.hp");
	hp_err_clear();
	CHECK_EQ_INT(hp_pack(&o), 0);
	/* a target that is not there, an object that is not an object */
	o = opts("patch.o", "e5", "e5.hp");
	o.target = path("no-such-target");
	CHECK(pack_fails(&o) < 0);
	o = opts("patch.c", "e6", "e6.hp");
	CHECK_EQ_INT(pack_fails(&o), -HP_E_FORMAT);
	hp_err_clear();
}

static int fds_at_start;

static int count_fds(void)
{
	char p[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n += access(p, F_OK) == 0;
	}
	return n;
}

static void test_pack_more(void)
{
	struct hp_pack_opts o;
	struct hp_patch *p = NULL;

	/* two objects are merged with ld -r; the temporary goes away */
	{
		const char *objs[2] = { path("patch.o"), path("renamed.o") };
		char cmd[512];

		o = opts("patch.o", "multi", "multi.hp");
		o.objs = objs;
		o.nobjs = 2;
		hp_err_clear();
		CHECK_EQ_INT(hp_pack(&o), 0);
		CHECK_EQ_INT(hp_patch__open(path("multi.hp"), &p), 0);
		if (p) {
			struct hp_patch_info info;

			hp_patch__info(p, &info);
			CHECK_EQ_INT(info.nfuncs, 2);	/* compute_v2 is a new function */
			hp_patch__close(p);
		}
		snprintf(cmd, sizeof(cmd), "ls %s | grep -q merged", dir);
		CHECK(system(cmd) != 0);
	}
	/* a function too short for the jump: pack refuses it up front */
	o = opts("tiny_patch.o", "tiny", "tiny.hp");
	o.target = path("tiny");
	CHECK_EQ_INT(pack_fails(&o), -HP_E_TOO_SHORT);
	CHECK(strstr(hp_errmsg(), "tiny") != NULL);
	/* a target without a build-id */
	o = opts("patch.o", "noid", "noid.hp");
	o.target = path("target-noid");
	CHECK_EQ_INT(pack_fails(&o), -HP_E_UNSUPPORTED);
	CHECK(strstr(hp_errmsg(), "build-id") != NULL);
	/* no descriptor left open by any of the packs and opens so far */
	CHECK_EQ_INT(count_fds(), fds_at_start);
	hp_err_clear();
}

/* ---- the reader on damaged files ------------------------------------- */

/* Invariants of an accepted patch: every pointer inside its own bytes,
 * every index in range (valgrind checks the reads). */
static void check_accepted(const struct hp_patch *p)
{
	const uint8_t *lo = p->buf, *hi = p->buf + p->len;
	struct hp_patch_info info;
	size_t sum = 0;

#define INSIDE(ptr) ((const uint8_t *)(ptr) >= lo && (const uint8_t *)(ptr) < hi)
	hp_patch__info(p, &info);
	CHECK(INSIDE(info.id) && INSIDE(info.target_name) && INSIDE(info.description) &&
	      INSIDE(info.cves) && INSIDE(info.supersedes));
	sum += strlen(info.id) + strlen(info.target_name) + strlen(info.description) +
	       strlen(info.cves) + strlen(info.supersedes);
	CHECK(info.build_id_len >= 1 && info.build_id_len <= 64);
	CHECK(info.nfuncs >= 1 && info.nfuncs <= HP_MAX_FUNCS);
	for (size_t i = 0; i < info.nfuncs; i++) {
		struct hp_patch_func f;

		CHECK_EQ_INT(hp_patch__func(p, i, &f), 0);
		CHECK(INSIDE(f.old_name) && INSIDE(f.new_name) && INSIDE(f.old_file));
		sum += strlen(f.old_name) + strlen(f.new_name) + strlen(f.old_file);
		CHECK(p->func_sym[i] < p->nsyms);
	}
	for (size_t i = 0; i < p->nsecs; i++) {
		const struct hp_psec *s = &p->secs[i];

		if (i)
			CHECK(INSIDE(s->name));
		if (s->name)
			sum += strlen(s->name);
		if (s->data) {
			CHECK(s->data >= lo && s->size <= (size_t)(hi - s->data));
			for (size_t k = 0; k < s->size; k++)
				sum += s->data[k];
		}
		for (size_t k = 0; k < s->nrelas; k++) {
			CHECK(s->relas[k].sym < p->nsyms);
			CHECK(s->relas[k].offset + 4 <= s->size);
		}
	}
	for (size_t i = 0; i < p->nsyms; i++) {
		CHECK(INSIDE(p->syms[i].name));
		sum += strlen(p->syms[i].name);
		CHECK(p->syms[i].shndx == SHN_UNDEF || p->syms[i].shndx == SHN_ABS ||
		      p->syms[i].shndx < p->nsecs);
	}
	for (size_t i = 0; i < p->ntsyms; i++) {
		CHECK(INSIDE(p->tsyms[i].name) && INSIDE(p->tsyms[i].file));
		sum += strlen(p->tsyms[i].name) + strlen(p->tsyms[i].file);
		CHECK(hp_patch__tsym(p, p->tsyms[i].name) != NULL);
	}
#undef INSIDE
	/* keep the sums from being optimised away */
	if (sum == 1)
		printf("  (sum %zu)\n", sum);
}

/* A fresh copy of the packed file, with room to grow by extra bytes. */
static uint8_t *copy(size_t extra)
{
	uint8_t *b = malloc(hp.n + extra);

	memcpy(b, hp.b, hp.n);
	memset(b + hp.n, 0, extra);
	return b;
}

/* Dump mode, for the CLI's test (tests/integration/malformed.sh): with
 * HP_DUMP_MALFORMED=DIR, every damaged copy below is also written to
 * DIR/NNN-what-is-wrong.hp, the base they damage to DIR/base.hp and the
 * target it was packed against to DIR/target.  With HP_DUMP_TARGET=EXE and
 * HP_DUMP_OBJ=FILE.o the base is FILE.o packed against EXE instead; a
 * change that changes nothing in that base is skipped. */
static const char *dump_dir;
static int dump_n;

static int dump_file(const char *name, const void *b, size_t n, mode_t mode)
{
	char p[4096];
	int fd, ok;

	snprintf(p, sizeof(p), "%s/%s", dump_dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	ok = write(fd, b, n) == (ssize_t)n;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* DIR/NNN-what.hp, with what in lower case, runs of other characters as '-'. */
static void dump_variant(const char *what, const uint8_t *b, size_t n)
{
	char name[96];
	size_t k = (size_t)snprintf(name, sizeof(name), "%03d-", ++dump_n);

	for (; *what && k < 80; what++)
		if ((*what >= 'a' && *what <= 'z') || (*what >= '0' && *what <= '9'))
			name[k++] = *what;
		else if (*what >= 'A' && *what <= 'Z')
			name[k++] = (char)(*what - 'A' + 'a');
		else if (name[k - 1] != '-')
			name[k++] = '-';
	if (name[k - 1] == '-')
		k--;
	memcpy(name + k, ".hp", 4);
	CHECK(dump_file(name, b, n, 0644) == 0);
}

static void test_dump_setup(void)
{
	const char *exe = getenv("HP_DUMP_TARGET"), *obj = getenv("HP_DUMP_OBJ");
	struct raw t;

	CHECK(!exe == !obj);	/* both or neither */
	if (exe && obj) {
		const char *objs[1] = { obj };
		struct hp_pack_opts o = { .target = exe, .objs = objs, .nobjs = 1, .id = "malformed",
					  .level = 1, .output = path("dump.hp") };

		hp_err_clear();
		CHECK_EQ_INT(hp_pack(&o), 0);
		if (hp_errmsg()[0])
			printf("  pack: %s\n", hp_errmsg());
		free(hp.b);
		CHECK_EQ_INT(raw_read(path("dump.hp"), &hp), 0);
		hp_err_clear();
	}
	CHECK(mkdir(dump_dir, 0755) == 0 || errno == EEXIST);
	CHECK(hp.b && dump_file("base.hp", hp.b, hp.n, 0644) == 0);
	CHECK_EQ_INT(raw_read(exe ? exe : path("target"), &t), 0);
	CHECK(t.b && dump_file("target", t.b, t.n, 0755) == 0);
	free(t.b);
}

/* Opens the damaged bytes (and frees them); must be refused as malformed
 * with a detail message. */
static int refused_line;
#define REFUSED(what, b, n) (refused_line = __LINE__, refused(what, b, n))
static int refused(const char *what, uint8_t *b, size_t n)
{
	struct hp_patch *p = NULL;
	int r;

	if (dump_dir) {
		if (n == hp.n && !memcmp(b, hp.b, n)) {
			printf("  dump: \"%s\" changes nothing in this base, skipped\n", what);
			free(b);
			return -HP_E_FORMAT;
		}
		dump_variant(what, b, n);
	}
	hp_err_clear();
	r = hp_patch__open_mem(b, n, &p);
	if (r != -HP_E_FORMAT || !hp_errmsg()[0]) {
		if (!hp_test_failed)
			printf("FAIL: %s: line %d: %s: returned %d (%s), detail \"%s\"\n",
			       hp_test_name, refused_line, what, r, hp_strerror(r), hp_errmsg());
		hp_test_failed = 1;
	}
	if (getenv("HP_TEST_VERBOSE"))
		printf("  %-40s -> %d %s\n", what, r, hp_errmsg());
	if (r == 0) {
		check_accepted(p);
		hp_patch__close(p);
	}
	free(b);
	hp_err_clear();
	return r;
}

static void test_original_opens(void)
{
	struct hp_patch *p = NULL;
	uint8_t *b;

	CHECK(hp.b != NULL);
	if (!hp.b)
		return;
	b = copy(0);
	CHECK_EQ_INT(hp_patch__open_mem(b, hp.n, &p), 0);
	if (p) {
		uint8_t sha[32];

		crypto_hash_sha256(sha, hp.b, hp.n);
		CHECK(!memcmp(p->sha256, sha, 32));
		CHECK(p->buf != b);	/* the patch owns a copy */
		check_accepted(p);
	}
	hp_patch__close(p);
	free(b);
	hp_patch__close(NULL);
}

static void test_bad_files(void)
{
	struct hp_patch *p = (struct hp_patch *)1;
	struct stat st;

	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open(path("no-such.hp"), &p), -ENOENT);
	CHECK(hp_errmsg()[0] != 0);
	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open(dir, &p), -HP_E_FORMAT);
	CHECK(hp_errmsg()[0] != 0);
	write_file("empty.hp", "", 0);
	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open(path("empty.hp"), &p), -HP_E_FORMAT);
	CHECK(hp_errmsg()[0] != 0);
	/* not a patch: the replacement object itself, the target */
	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open(path("patch.o"), &p), -HP_E_FORMAT);
	CHECK(hp_errmsg()[0] != 0);
	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open(path("target"), &p), -HP_E_FORMAT);
	/* over the size limit: refused before a byte is read */
	hp_err_clear();
	CHECK_EQ_INT(hp_patch__open_mem("x", (size_t)HP_MAX_FILE + 1, &p), -HP_E_FORMAT);
	CHECK(hp_errmsg()[0] != 0);
	CHECK(p == (struct hp_patch *)1);	/* untouched on failure */
	if (stat("/dev/null", &st) == 0) {
		hp_err_clear();
		CHECK_EQ_INT(hp_patch__open("/dev/null", &p), -HP_E_FORMAT);
	}
	hp_err_clear();
}

static void test_truncated(void)
{
	if (!hp.b)
		return;
	REFUSED("empty buffer", copy(0), 0);
	for (size_t n = 0; n < hp.n; n += 64) {
		char what[64];

		snprintf(what, sizeof(what), "truncated to %zu of %zu", n, hp.n);
		REFUSED(what, copy(0), n);
	}
	REFUSED("last byte missing", copy(0), hp.n - 1);
	REFUSED("one ELF header", copy(0), sizeof(Elf64_Ehdr));
	REFUSED("ELF header minus one", copy(0), sizeof(Elf64_Ehdr) - 1);
}

static void test_bad_headers(void)
{
	uint8_t *b;

	if (!hp.b)
		return;
	b = copy(0);
	b[EI_CLASS] = ELFCLASS32;
	REFUSED("ELFCLASS32", b, hp.n);
	b = copy(0);
	b[EI_CLASS] = 7;
	REFUSED("class 7", b, hp.n);
	b = copy(0);
	b[EI_DATA] = ELFDATA2MSB;
	REFUSED("big-endian", b, hp.n);
	b = copy(0);
	b[0] = 0x7e;
	REFUSED("bad ELF magic", b, hp.n);
	b = copy(0);
	ehdr(b)->e_machine = EM_AARCH64;
	REFUSED("EM_AARCH64", b, hp.n);
	b = copy(0);
	ehdr(b)->e_machine = EM_386;
	REFUSED("EM_386", b, hp.n);
	b = copy(0);
	ehdr(b)->e_type = ET_EXEC;
	REFUSED("ET_EXEC", b, hp.n);
	b = copy(0);
	ehdr(b)->e_type = ET_DYN;
	REFUSED("ET_DYN", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shnum = 0xffff;
	REFUSED("e_shnum 65535", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shnum = HP_MAX_SECTIONS + 1;
	REFUSED("e_shnum 4097", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shnum = (uint16_t)(ehdr(b)->e_shnum + 1);
	REFUSED("e_shnum one too many", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shnum = 0;	/* extended numbering, with section 0's sh_size 0 */
	REFUSED("e_shnum 0", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shnum = 0;	/* extended numbering claiming a million sections */
	shdr(b, 0)->sh_size = 1000000;
	REFUSED("extended e_shnum 1000000", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shoff = hp.n - 10;
	REFUSED("e_shoff near the end", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shoff = UINT64_MAX - 63;
	REFUSED("e_shoff huge", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shstrndx = ehdr(b)->e_shnum;
	REFUSED("e_shstrndx out of range", b, hp.n);
	b = copy(0);
	ehdr(b)->e_shstrndx = (uint16_t)scn_by_type(b, SHT_SYMTAB);
	REFUSED("e_shstrndx is .symtab", b, hp.n);
}

static void test_bad_sections(void)
{
	size_t info, funcs, syms, text, symtab;
	uint8_t *b;

	if (!hp.b)
		return;
	info = scn_by_name(hp.b, HP_SEC_INFO);
	funcs = scn_by_name(hp.b, HP_SEC_FUNCS);
	syms = scn_by_name(hp.b, HP_SEC_SYMS);
	text = scn_by_name(hp.b, ".text");
	symtab = scn_by_type(hp.b, SHT_SYMTAB);
	CHECK(info && funcs && syms && text && symtab);
	if (!info || !funcs || !syms || !text || !symtab)
		return;

	/* beyond the end of the file */
	b = copy(0);
	shdr(b, text)->sh_size = hp.n - shdr(b, text)->sh_offset + 1;
	REFUSED(".text one byte past the end", b, hp.n);
	b = copy(0);
	shdr(b, info)->sh_offset = hp.n;
	REFUSED(".hotpatch.info at the end of the file", b, hp.n);
	b = copy(0);
	shdr(b, funcs)->sh_offset = 8;
	shdr(b, funcs)->sh_size = UINT64_MAX - 4;	/* offset + size wraps */
	REFUSED("sh_offset + sh_size wraps", b, hp.n);
	b = copy(0);
	shdr(b, symtab)->sh_size = (uint64_t)1 << 40;
	REFUSED(".symtab 1 TiB", b, hp.n);
	b = copy(0);
	shdr(b, scn_by_name(b, ".bss") ? scn_by_name(b, ".bss") : text)->sh_type = SHT_NOBITS;
	shdr(b, scn_by_name(b, ".bss") ? scn_by_name(b, ".bss") : text)->sh_size = (uint64_t)1 << 40;
	REFUSED("NOBITS of 1 TiB", b, hp.n);

	/* overlapping sections */
	b = copy(0);
	shdr(b, funcs)->sh_offset = shdr(b, info)->sh_offset;
	REFUSED(".hotpatch.funcs on .hotpatch.info", b, hp.n);
	b = copy(0);
	shdr(b, text)->sh_offset = shdr(b, symtab)->sh_offset + 8;
	if (shdr(b, text)->sh_size > shdr(b, symtab)->sh_size - 8)
		shdr(b, text)->sh_size = shdr(b, symtab)->sh_size - 8;
	REFUSED(".text inside .symtab", b, hp.n);
	b = copy(0);
	shdr(b, syms)->sh_offset = shdr(b, funcs)->sh_offset + shdr(b, funcs)->sh_size - 1;
	REFUSED(".hotpatch.syms overlapping the last byte of .hotpatch.funcs", b, hp.n);

	/* alignment */
	b = copy(0);
	shdr(b, text)->sh_addralign = 24;
	REFUSED("alignment 24", b, hp.n);
	b = copy(0);
	shdr(b, text)->sh_addralign = 8192;
	REFUSED("alignment 8192", b, hp.n);

	/* string tables not terminated */
	b = copy(0);
	{
		Elf64_Shdr *st = shdr(b, shdr(b, symtab)->sh_link);

		b[st->sh_offset + st->sh_size - 1] = 'x';
	}
	REFUSED(".strtab not terminated", b, hp.n);
	b = copy(0);
	{
		Elf64_Shdr *st = shdr(b, ehdr(b)->e_shstrndx);

		b[st->sh_offset + st->sh_size - 1] = 'x';
	}
	REFUSED(".shstrtab not terminated", b, hp.n);
	b = copy(0);
	shdr(b, info)->sh_name = (uint32_t)shdr(b, ehdr(b)->e_shstrndx)->sh_size + 100;
	REFUSED("section name beyond .shstrtab", b, hp.n);

	/* symbol table */
	b = copy(0);
	shdr(b, symtab)->sh_entsize = 23;
	REFUSED(".symtab entsize 23", b, hp.n);
	b = copy(0);
	shdr(b, symtab)->sh_link = ehdr(b)->e_shnum + 3;
	REFUSED(".symtab sh_link out of range", b, hp.n);
	b = copy(0);
	shdr(b, symtab)->sh_link = (uint32_t)text;
	REFUSED(".symtab sh_link to .text", b, hp.n);
	b = copy(0);
	((Elf64_Sym *)scn_data(b, symtab))[1].st_name = 0x7fffffff;
	REFUSED("symbol name beyond .strtab", b, hp.n);
	b = copy(0);
	{
		Elf64_Sym *s = (Elf64_Sym *)scn_data(b, symtab);

		for (size_t i = 1; i < shdr(b, symtab)->sh_size / sizeof(*s); i++)
			if (s[i].st_shndx == text) {
				s[i].st_shndx = (uint16_t)(ehdr(b)->e_shnum + 5);
				break;
			}
	}
	REFUSED("symbol section index out of range", b, hp.n);
	b = copy(0);
	{
		Elf64_Sym *s = (Elf64_Sym *)scn_data(b, symtab);

		for (size_t i = 1; i < shdr(b, symtab)->sh_size / sizeof(*s); i++)
			if (ELF64_ST_TYPE(s[i].st_info) == STT_FUNC && s[i].st_shndx == text) {
				s[i].st_size = shdr(b, text)->sh_size + 1;
				break;
			}
	}
	REFUSED("function larger than .text", b, hp.n);
	b = copy(0);
	{
		Elf64_Sym *s = (Elf64_Sym *)scn_data(b, symtab);

		for (size_t i = 1; i < shdr(b, symtab)->sh_size / sizeof(*s); i++)
			if (s[i].st_shndx == SHN_UNDEF && s[i].st_name) {
				s[i].st_shndx = SHN_COMMON;
				break;
			}
	}
	REFUSED("COMMON symbol", b, hp.n);
	b = copy(0);
	shdr(b, text)->sh_type = SHT_SYMTAB;
	REFUSED("two symbol tables", b, hp.n);
	b = copy(0);
	shdr(b, symtab)->sh_type = SHT_PROGBITS;
	REFUSED("no symbol table", b, hp.n);
}

/* The first RELA section that applies to an allocated section with at
 * least one entry; 0 if none. */
static size_t alloc_rela(uint8_t *b)
{
	for (size_t i = 1; i < ehdr(b)->e_shnum; i++) {
		Elf64_Shdr *s = shdr(b, i);

		if (s->sh_type == SHT_RELA && s->sh_size >= sizeof(Elf64_Rela) &&
		    s->sh_info < ehdr(b)->e_shnum && (shdr(b, s->sh_info)->sh_flags & SHF_ALLOC))
			return i;
	}
	return 0;
}

static void test_bad_relocations(void)
{
	size_t rs, symtab, nsyms;
	uint8_t *b;
	Elf64_Rela *r;

	if (!hp.b)
		return;
	rs = alloc_rela(hp.b);
	symtab = scn_by_type(hp.b, SHT_SYMTAB);
	CHECK(rs != 0);
	if (!rs)
		return;
	nsyms = shdr(hp.b, symtab)->sh_size / sizeof(Elf64_Sym);

	b = copy(0);
	r = (Elf64_Rela *)scn_data(b, rs);
	r->r_info = ELF64_R_INFO(nsyms, ELF64_R_TYPE(r->r_info));
	REFUSED("relocation symbol index = nsyms", b, hp.n);
	b = copy(0);
	r = (Elf64_Rela *)scn_data(b, rs);
	r->r_info = ELF64_R_INFO(0xffffffffu, ELF64_R_TYPE(r->r_info));
	REFUSED("relocation symbol index 0xffffffff", b, hp.n);
	b = copy(0);
	r = (Elf64_Rela *)scn_data(b, rs);
	r->r_offset = shdr(b, shdr(b, rs)->sh_info)->sh_size;
	REFUSED("relocation at the section end", b, hp.n);
	b = copy(0);
	r = (Elf64_Rela *)scn_data(b, rs);
	r->r_offset = shdr(b, shdr(b, rs)->sh_info)->sh_size - 3;
	REFUSED("4-byte relocation 3 bytes before the end", b, hp.n);
	b = copy(0);
	r = (Elf64_Rela *)scn_data(b, rs);
	r->r_offset = UINT64_MAX - 1;
	REFUSED("relocation offset 2^64-2", b, hp.n);
	b = copy(0);
	shdr(b, rs)->sh_entsize = 16;
	REFUSED("RELA entsize 16", b, hp.n);
	b = copy(0);
	shdr(b, rs)->sh_size -= 1;
	REFUSED("RELA size not a multiple", b, hp.n);
	b = copy(0);
	shdr(b, rs)->sh_info = ehdr(b)->e_shnum + 1;
	REFUSED("RELA sh_info out of range", b, hp.n);
	b = copy(0);
	shdr(b, rs)->sh_link = 0;
	REFUSED("RELA not linked to .symtab", b, hp.n);
	b = copy(0);
	shdr(b, rs)->sh_type = SHT_REL;
	REFUSED("REL instead of RELA", b, hp.n);
	/* a second relocation section for the same section */
	b = copy(0);
	{
		size_t other = scn_by_name(b, HP_SEC_SYMS);

		shdr(b, other)->sh_type = SHT_RELA;
		shdr(b, other)->sh_info = shdr(b, rs)->sh_info;
		shdr(b, other)->sh_link = shdr(b, rs)->sh_link;
		shdr(b, other)->sh_entsize = sizeof(Elf64_Rela);
		shdr(b, other)->sh_size = 0;
		/* size 0 would be accepted on its own; make it one real entry */
		shdr(b, other)->sh_offset = shdr(b, rs)->sh_offset;
		shdr(b, rs)->sh_offset += sizeof(Elf64_Rela);
		shdr(b, rs)->sh_size -= sizeof(Elf64_Rela);
		shdr(b, other)->sh_size = sizeof(Elf64_Rela);
	}
	REFUSED("two RELA sections for one section", b, hp.n);
}

static struct hp_disk_info *dinfo(uint8_t *b)
{
	return (struct hp_disk_info *)scn_data(b, scn_by_name(b, HP_SEC_INFO));
}

static void test_bad_info(void)
{
	struct hp_disk_info *h;
	uint8_t *b;

	if (!hp.b)
		return;
	b = copy(0);
	memcpy(dinfo(b)->magic, "HPINFX\0\0", 8);
	REFUSED("info bad magic", b, hp.n);
	b = copy(0);
	dinfo(b)->version = 2;
	hp_err_clear();
	{
		struct hp_patch *p = NULL;

		CHECK_EQ_INT(hp_patch__open_mem(b, hp.n, &p), -HP_E_FORMAT);
		/* names both versions */
		CHECK(strstr(hp_errmsg(), "version 2") != NULL);
		CHECK(strstr(hp_errmsg(), "version 1") != NULL);
	}
	REFUSED("info version 2", b, hp.n);
	b = copy(0);
	dinfo(b)->version = 0;
	REFUSED("info version 0", b, hp.n);
	b = copy(0);
	dinfo(b)->build_id_len = 0;
	REFUSED("build_id_len 0", b, hp.n);
	b = copy(0);
	dinfo(b)->build_id_len = 65;
	REFUSED("build_id_len 65", b, hp.n);
	b = copy(0);
	dinfo(b)->build_id_len = 0xffffffff;
	REFUSED("build_id_len 2^32-1", b, hp.n);
	b = copy(0);
	dinfo(b)->severity = 4;
	REFUSED("severity 4", b, hp.n);
	b = copy(0);
	dinfo(b)->level = 0;
	REFUSED("level 0", b, hp.n);

	/* strings */
	b = copy(0);
	h = dinfo(b);
	h->id = h->strings_len;
	REFUSED("id offset = strings_len", b, hp.n);
	b = copy(0);
	h = dinfo(b);
	h->description = h->strings_len + 1000;
	REFUSED("description beyond the area", b, hp.n);
	b = copy(0);
	h = dinfo(b);
	h->target_name = 0xffffffff;
	REFUSED("target_name 0xffffffff", b, hp.n);
	b = copy(0);
	h = dinfo(b);
	h->strings_len = (uint32_t)shdr(b, scn_by_name(b, HP_SEC_INFO))->sh_size;
	REFUSED("strings_len past the section", b, hp.n);
	b = copy(0);
	h = dinfo(b);
	h->strings_len = 0xffffffff;
	REFUSED("strings_len 2^32-1", b, hp.n);
	b = copy(0);
	{
		/* the area's last byte is the last string's terminator */
		h = dinfo(b);
		((uint8_t *)(h + 1))[h->strings_len - 1] = 'x';
	}
	REFUSED("last info string unterminated", b, hp.n);
	b = copy(0);
	{
		/* the area ends inside the id: every string but the id is outside,
		 * so point them all at the id */
		h = dinfo(b);
		h->strings_len = h->id + 3;
		h->target_name = h->description = h->cves = h->supersedes = h->id;
	}
	REFUSED("id unterminated in a shortened area", b, hp.n);
	b = copy(0);
	{
		h = dinfo(b);
		((char *)(h + 1))[h->id] = 0;	/* empty id */
	}
	REFUSED("empty id", b, hp.n);
	b = copy(0);
	{
		h = dinfo(b);
		((char *)(h + 1))[h->id + 1] = '/';
	}
	REFUSED("id with '/'", b, hp.n);
	b = copy(0);
	shdr(b, scn_by_name(b, HP_SEC_INFO))->sh_size = sizeof(struct hp_disk_info) - 1;
	REFUSED("info shorter than its header", b, hp.n);
	b = copy(0);
	shdr(b, scn_by_name(b, HP_SEC_INFO))->sh_type = SHT_NOBITS;
	REFUSED("info NOBITS", b, hp.n);
	b = copy(0);
	/* rename .hotpatch.info: not a patch */
	((char *)b + shdr(b, ehdr(b)->e_shstrndx)->sh_offset +
	 shdr(b, scn_by_name(b, HP_SEC_INFO))->sh_name)[1] = 'X';
	REFUSED("no .hotpatch.info", b, hp.n);
}

static struct hp_disk_table *dtab(uint8_t *b, const char *sec)
{
	return (struct hp_disk_table *)scn_data(b, scn_by_name(b, sec));
}

static struct hp_disk_func *dfunc(uint8_t *b, int i)
{
	return (struct hp_disk_func *)(dtab(b, HP_SEC_FUNCS) + 1) + i;
}

static char *dfunc_str(uint8_t *b, uint32_t off)
{
	struct hp_disk_table *t = dtab(b, HP_SEC_FUNCS);

	return (char *)(t + 1) + (size_t)t->count * sizeof(struct hp_disk_func) + off;
}

static void test_bad_funcs(void)
{
	uint8_t *b;

	if (!hp.b)
		return;
	CHECK_EQ_INT(dtab(hp.b, HP_SEC_FUNCS)->count, 2);
	/* The entry layout in docs/patch-format.md ends at offset 32 + 32 = 64
	 * (its "72 for funcs" in the table header is wrong). */
	CHECK_EQ_INT(sizeof(struct hp_disk_func), 64);
	CHECK_EQ_INT(dtab(hp.b, HP_SEC_FUNCS)->entsize, 64);
	CHECK_EQ_INT(dtab(hp.b, HP_SEC_SYMS)->entsize, 16);

	b = copy(0);
	memcpy(dtab(b, HP_SEC_FUNCS)->magic, "HPFUNCZ\0", 8);
	REFUSED("funcs bad magic", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->count = 1000000;
	REFUSED("funcs count 1000000", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->count = HP_MAX_FUNCS;	/* within the limit, not the section */
	REFUSED("funcs count 4096", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->count = 0;
	REFUSED("funcs count 0", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->entsize = 71;
	REFUSED("funcs entsize 71", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->entsize = 0;
	REFUSED("funcs entsize 0", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_FUNCS)->strings_len = 0xffffffff;
	REFUSED("funcs strings_len 2^32-1", b, hp.n);
	b = copy(0);
	shdr(b, scn_by_name(b, HP_SEC_FUNCS))->sh_size = 10;
	REFUSED("funcs shorter than its header", b, hp.n);

	/* overlapping functions */
	b = copy(0);
	dfunc(b, 1)->old_addr = dfunc(b, 0)->old_addr;
	REFUSED("the same function twice", b, hp.n);
	b = copy(0);
	dfunc(b, 1)->old_addr = dfunc(b, 0)->old_addr + dfunc(b, 0)->old_size - 1;
	REFUSED("second starts on the first's last byte", b, hp.n);
	b = copy(0);
	dfunc(b, 1)->old_addr = dfunc(b, 0)->old_addr - 1;
	dfunc(b, 1)->old_size = dfunc(b, 0)->old_size + 2;
	REFUSED("second contains the first", b, hp.n);
	b = copy(0);
	dfunc(b, 0)->old_size = 0;
	REFUSED("function of size 0", b, hp.n);
	b = copy(0);
	dfunc(b, 0)->old_addr = UINT64_MAX - 4;
	REFUSED("address + size wraps", b, hp.n);
	b = copy(0);
	dfunc(b, 0)->old_size = (uint64_t)1 << 32;
	REFUSED("function of 4 GiB", b, hp.n);

	/* strings */
	b = copy(0);
	dfunc(b, 1)->old_name = dtab(b, HP_SEC_FUNCS)->strings_len;
	REFUSED("old_name offset = strings_len", b, hp.n);
	b = copy(0);
	dfunc(b, 0)->new_name = 0x80000000u;
	REFUSED("new_name offset 2^31", b, hp.n);
	b = copy(0);
	dfunc(b, 0)->old_file = 0xffffffffu;
	REFUSED("old_file offset 2^32-1", b, hp.n);
	b = copy(0);
	{
		struct hp_disk_table *t = dtab(b, HP_SEC_FUNCS);

		dfunc_str(b, 0)[t->strings_len - 1] = 'x';
	}
	REFUSED("last funcs string unterminated", b, hp.n);
	b = copy(0);
	dfunc_str(b, dfunc(b, 0)->new_name)[0] = 0;
	REFUSED("empty new_name", b, hp.n);

	/* a new_name the patch does not define */
	b = copy(0);
	dfunc_str(b, dfunc(b, 0)->new_name)[0] = 'X';
	REFUSED("new_name not defined in the patch", b, hp.n);
	b = copy(0);
	{
		/* a name the patch has, but as an undefined symbol: format_value
		 * (12 characters) becomes snprintf in place */
		for (int i = 0; i < 2; i++) {
			char *nn = dfunc_str(b, dfunc(b, i)->new_name);

			if (!strcmp(nn, "format_value"))
				memcpy(nn, "snprintf", strlen("snprintf") + 1);
		}
	}
	REFUSED("new_name is an undefined symbol", b, hp.n);
	b = copy(0);
	/* rename .hotpatch.funcs: not a patch */
	((char *)b + shdr(b, ehdr(b)->e_shstrndx)->sh_offset +
	 shdr(b, scn_by_name(b, HP_SEC_FUNCS))->sh_name)[1] = 'X';
	REFUSED("no .hotpatch.funcs", b, hp.n);

	/* .hotpatch.syms */
	b = copy(0);
	dtab(b, HP_SEC_SYMS)->count = 1000000;
	REFUSED("syms count 1000000", b, hp.n);
	b = copy(0);
	dtab(b, HP_SEC_SYMS)->entsize = 24;
	REFUSED("syms entsize 24", b, hp.n);
	b = copy(0);
	memcpy(dtab(b, HP_SEC_SYMS)->magic, HP_FUNCS_MAGIC, 8);
	REFUSED("syms with the funcs magic", b, hp.n);
	b = copy(0);
	if (dtab(b, HP_SEC_SYMS)->count) {
		struct hp_disk_sym *s = (struct hp_disk_sym *)(dtab(b, HP_SEC_SYMS) + 1);

		s->name = dtab(b, HP_SEC_SYMS)->strings_len;
	}
	REFUSED("syms name offset = strings_len", b, hp.n);
}

/* Duplicated sections of our own: a second .hotpatch.funcs (a valid copy
 * appended to the file) must not be accepted silently (nor leak). */
static void test_duplicate_sections(void)
{
	static const char *const ours[] = { HP_SEC_INFO, HP_SEC_FUNCS, HP_SEC_SYMS };

	if (!hp.b)
		return;
	for (int which = 0; which < 3; which++) {
		size_t src = scn_by_name(hp.b, ours[which]);
		/* the section whose header is reused for the copy */
		size_t victim = scn_by_name(hp.b, ".comment") ? scn_by_name(hp.b, ".comment")
							       : scn_by_name(hp.b, ".note.GNU-stack");
		size_t len = shdr(hp.b, src)->sh_size, at = (hp.n + 7) & ~(size_t)7;
		uint8_t *b = copy(at - hp.n + len);
		char what[64];

		CHECK(victim != 0);
		if (!victim) {
			free(b);
			continue;
		}
		memcpy(b + at, b + shdr(b, src)->sh_offset, len);
		shdr(b, victim)->sh_offset = at;
		shdr(b, victim)->sh_size = len;
		shdr(b, victim)->sh_name = shdr(b, src)->sh_name;
		snprintf(what, sizeof(what), "two %s sections", ours[which]);
		REFUSED(what, b, at + len);
	}
}

/* Random damage: any answer but a crash; valgrind checks the reads. */
static void test_random_flips(void)
{
	unsigned long rnd = 0x5eed;
	unsigned accepted = 0, refused_n = 0;
	size_t shtab, shlen;

	if (!hp.b)
		return;
	shtab = ehdr(hp.b)->e_shoff;
	shlen = (size_t)ehdr(hp.b)->e_shnum * sizeof(Elf64_Shdr);
	for (int it = 0; it < 4000; it++) {
		uint8_t *b = copy(0);
		struct hp_patch *p = NULL;
		int nflips = 1 + it % 4, r;

		for (int k = 0; k < nflips; k++) {
			size_t at;
			size_t sec;

			rnd = rnd * 6364136223846793005ul + 1442695040888963407ul;
			switch ((rnd >> 33) % 4) {
			case 0: /* the ELF header */
				at = (rnd >> 40) % sizeof(Elf64_Ehdr);
				break;
			case 1: /* the section headers */
				at = shtab + (rnd >> 40) % shlen;
				break;
			case 2: /* one of our sections, or .symtab, or a RELA */
				sec = (rnd >> 40) % ehdr(hp.b)->e_shnum;
				at = shdr(hp.b, sec)->sh_type == SHT_NOBITS || !shdr(hp.b, sec)->sh_size
					     ? (rnd >> 20) % hp.n
					     : shdr(hp.b, sec)->sh_offset +
						       (rnd >> 24) % shdr(hp.b, sec)->sh_size;
				break;
			default:
				at = (rnd >> 20) % hp.n;
				break;
			}
			if (at < hp.n)
				b[at] ^= (uint8_t)(1u << ((rnd >> 50) % 8)) |
					 ((rnd >> 57) & 1 ? (uint8_t)(rnd >> 56) : 0);
		}
		hp_err_clear();
		r = hp_patch__open_mem(b, hp.n, &p);
		if (r == 0) {
			accepted++;
			check_accepted(p);
			hp_patch__close(p);
		} else {
			refused_n++;
			CHECK(r < 0);
			CHECK(hp_errmsg()[0] != 0 || r == -ENOMEM);
		}
		free(b);
	}
	if (getenv("HP_TEST_VERBOSE"))
		printf("  random flips: %u accepted, %u refused\n", accepted, refused_n);
	CHECK(refused_n > 0);
	hp_err_clear();
}

int main(void)
{
	if (system("cc --version >/dev/null 2>&1") != 0 || system("ld --version >/dev/null 2>&1") != 0) {
		printf("SKIP: test-patchfile: no C compiler or linker\n");
		return 0;
	}
	if (sodium_init() < 0) {
		printf("FAIL: sodium_init\n");
		return 1;
	}
	if (build()) {
		printf("FAIL: build: could not compile the test programs in %s\n", dir);
		return 1;
	}
	fds_at_start = count_fds();
	RUN(test_pack_and_open);
	RUN(test_pack_replace);
	RUN(test_pack_errors);
	RUN(test_pack_more);
	dump_dir = getenv("HP_DUMP_MALFORMED");
	if (dump_dir && *dump_dir)
		RUN(test_dump_setup);
	else
		dump_dir = NULL;
	RUN(test_original_opens);
	RUN(test_bad_files);
	RUN(test_truncated);
	RUN(test_bad_headers);
	RUN(test_bad_sections);
	RUN(test_bad_relocations);
	RUN(test_bad_info);
	RUN(test_bad_funcs);
	RUN(test_duplicate_sections);
	RUN(test_random_flips);
	free(hp.b);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
