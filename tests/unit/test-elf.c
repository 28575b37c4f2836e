/* Unit test of lib/elf: builds small programs with cc in a temporary
 * directory and checks what hp_elf__* finds in them against an independent
 * reading of the raw ELF structures.  Needs no root and no live process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/common.h"
#include "elf/elf.h"
#include "harness.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define BUILD_ID_HEX "0123456789abcdef0011223344556677deadbeef"

static char dir[] = "/tmp/hp-test-elf.XXXXXX";
static int have_cc;

#include "tmpdir.h"

static Elf64_Shdr *raw_shdr(struct raw *r, size_t i)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	return (Elf64_Shdr *)(r->b + eh->e_shoff + i * sizeof(Elf64_Shdr));
}

static const char *raw_scn_name(struct raw *r, Elf64_Shdr *s)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	return (const char *)r->b + raw_shdr(r, eh->e_shstrndx)->sh_offset + s->sh_name;
}

static Elf64_Shdr *raw_scn_by_name(struct raw *r, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	for (size_t i = 1; i < eh->e_shnum; i++)
		if (!strcmp(raw_scn_name(r, raw_shdr(r, i)), name))
			return raw_shdr(r, i);
	return NULL;
}

static Elf64_Shdr *raw_scn_by_type(struct raw *r, uint32_t type)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	for (size_t i = 1; i < eh->e_shnum; i++)
		if (raw_shdr(r, i)->sh_type == type)
			return raw_shdr(r, i);
	return NULL;
}

/* File bytes at vaddr, found through the section headers. */
static const uint8_t *raw_vaddr(struct raw *r, uint64_t vaddr, size_t len)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	for (size_t i = 1; i < eh->e_shnum; i++) {
		Elf64_Shdr *s = raw_shdr(r, i);

		if ((s->sh_flags & SHF_ALLOC) && s->sh_type != SHT_NOBITS && vaddr >= s->sh_addr &&
		    vaddr + len <= s->sh_addr + s->sh_size)
			return r->b + s->sh_offset + (vaddr - s->sh_addr);
	}
	return NULL;
}

/* The section holding vaddr, by name ("" if none). */
static const char *raw_scn_of(struct raw *r, uint64_t vaddr)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)r->b;

	for (size_t i = 1; i < eh->e_shnum; i++) {
		Elf64_Shdr *s = raw_shdr(r, i);

		if ((s->sh_flags & SHF_ALLOC) && vaddr >= s->sh_addr && vaddr < s->sh_addr + s->sh_size)
			return raw_scn_name(r, s);
	}
	return "";
}

/* ---- the test programs ------------------------------------------------ */

static const char a_c[] =
	"static __attribute__((noinline, used)) int helper(int x) { return x * 3 + 1; }\n"
	"int a_func(int x) { return helper(x) + 2; }\n"
	"int shared_name(int x) { return x + 100; }\n";
static const char b_c[] =
	"static __attribute__((noinline, used)) int helper(int x) { return x * 5 - 7; }\n"
	"static __attribute__((noinline, used)) int shared_name(int x) { return x - 1; }\n"
	"int b_func(int x) { return helper(x) ^ shared_name(x); }\n"
	"int counter_global = 5;\n";
static const char main_c[] =
	"#include <stdio.h>\n"
	"int a_func(int); int b_func(int);\n"
	"int main(int argc, char **argv) {\n"
	"  printf(\"%d\\n\", a_func(argc) + b_func(argc));\n"
	"  puts(argv[0]);\n"
	"  return 0;\n"
	"}\n";

static int build(void)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	if (write_file("a.c", a_c, strlen(a_c)) || write_file("b.c", b_c, strlen(b_c)) ||
	    write_file("main.c", main_c, strlen(main_c)))
		return -1;
	if (sh("cd %s && cc -O1 -fcf-protection -fPIE -pie -Wl,--build-id=0x%s -o prog "
	       "main.c a.c b.c", dir, BUILD_ID_HEX))
		return -1;
	if (sh("cd %s && cc -O1 -fcf-protection -no-pie -fno-plt -o prog-nopie main.c a.c b.c", dir))
		return -1;
	if (sh("cd %s && cc -O1 -fcf-protection -c -o a.o a.c", dir))
		return -1;
	if (sh("cd %s && cc -O1 -fPIC -shared -s -Wl,--build-id -o liba.so a.c b.c", dir))
		return -1;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* ---- tests ----------------------------------------------------------- */

static void test_open_and_build_id(void)
{
	struct hp_elf *e = NULL;
	uint8_t id[64], small[4];
	size_t len = 0;
	char hex[129];

	CHECK_EQ_INT(hp_elf__open(path("prog"), &e), 0);
	if (!e)
		return;
	CHECK_EQ_INT(hp_elf__build_id(e, id, sizeof(id), &len), 0);
	CHECK_EQ_INT(len, 20);
	hp_hex(id, len, hex);
	CHECK(!strcmp(hex, BUILD_ID_HEX));
	CHECK_EQ_INT(hp_elf__build_id(e, small, sizeof(small), &len), -ENOBUFS);
	CHECK_EQ_INT(len, 20);
	CHECK_EQ_INT(hp_elf__first_load_vaddr(e), 0);
	hp_elf__close(e);

	CHECK_EQ_INT(hp_elf__open(path("prog-nopie"), &e), 0);
	if (e)
		CHECK_EQ_INT(hp_elf__first_load_vaddr(e), 0x400000);
	hp_elf__close(e);

	/* A relocatable object has no segments, and gcc's .o no build-id note. */
	CHECK_EQ_INT(hp_elf__open(path("a.o"), &e), 0);
	if (e) {
		CHECK_EQ_INT(hp_elf__build_id(e, id, sizeof(id), &len), -ENOENT);
		CHECK_EQ_INT(hp_elf__first_load_vaddr(e), 0);
	}
	hp_elf__close(e);
	hp_elf__close(NULL);
}

static void test_find_symbol(void)
{
	struct hp_elf *e = NULL;
	struct hp_sym s, sa, sb;
	int r;

	CHECK_EQ_INT(hp_elf__open(path("prog"), &e), 0);
	if (!e)
		return;

	CHECK_EQ_INT(hp_elf__find_symbol(e, "a_func", NULL, 0, &s), 0);
	CHECK(!strcmp(s.name, "a_func"));
	CHECK(!strcmp(s.file, ""));
	CHECK_EQ_INT(s.type, STT_FUNC);
	CHECK_EQ_INT(s.bind, STB_GLOBAL);
	CHECK_EQ_INT(s.sympos, 0);
	CHECK(s.size > 0 && s.value != 0);

	CHECK_EQ_INT(hp_elf__find_symbol(e, "counter_global", "", 0, &s), 0);
	CHECK_EQ_INT(s.type, STT_OBJECT);
	CHECK_EQ_INT(s.size, 4);

	/* Two static helper()s: ambiguous, both listed. */
	hp_err_clear();
	r = hp_elf__find_symbol(e, "helper", NULL, 0, &s);
	CHECK_EQ_INT(r, -HP_E_SYM_AMBIGUOUS);
	CHECK(strstr(hp_errmsg(), "helper (a.c, 0x") != NULL);
	CHECK(strstr(hp_errmsg(), "helper (b.c, 0x") != NULL);

	/* The file decides (basename of either side). */
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "a.c", 0, &sa), 0);
	CHECK(!strcmp(sa.file, "a.c"));
	CHECK_EQ_INT(sa.bind, STB_LOCAL);
	CHECK_EQ_INT(sa.sympos, 1);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "/somewhere/else/b.c", 0, &sb), 0);
	CHECK(!strcmp(sb.file, "b.c"));
	CHECK_EQ_INT(sb.sympos, 2);
	CHECK(sa.value != sb.value);

	/* sympos decides. */
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, 1, &s), 0);
	CHECK_EQ_INT(s.value, sa.value);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, 2, &s), 0);
	CHECK_EQ_INT(s.value, sb.value);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "b.c", 2, &s), 0);
	CHECK_EQ_INT(s.value, sb.value);
	hp_err_clear();
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "a.c", 2, &s), -HP_E_SYM_NOT_FOUND);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, 3, &s), -HP_E_SYM_NOT_FOUND);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "c.c", 0, &s), -HP_E_SYM_NOT_FOUND);

	/* A global wins over a same-named local unless a file is given. */
	CHECK_EQ_INT(hp_elf__find_symbol(e, "shared_name", NULL, 0, &s), 0);
	CHECK_EQ_INT(s.bind, STB_GLOBAL);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "shared_name", "b.c", 0, &sb), 0);
	CHECK_EQ_INT(sb.bind, STB_LOCAL);
	CHECK_EQ_INT(sb.sympos, 0);	/* unique among locals */
	CHECK(s.value != sb.value);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "shared_name", NULL, 1, &s), 0);
	CHECK_EQ_INT(s.value, sb.value);

	/* Undefined imports, section and file symbols are not definitions. */
	hp_err_clear();
	CHECK_EQ_INT(hp_elf__find_symbol(e, "puts", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
	CHECK(strstr(hp_errmsg(), "puts") != NULL);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "a.c", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "no_such_symbol", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
	hp_elf__close(e);
	hp_err_clear();
}

static void test_read_vaddr(void)
{
	const char *progs[] = { "prog", "prog-nopie" };

	for (size_t p = 0; p < 2; p++) {
		struct hp_elf *e = NULL;
		struct hp_sym s;
		struct raw r;
		uint8_t buf[256];
		const uint8_t *want;
		Elf64_Shdr *bss;

		CHECK_EQ_INT(hp_elf__open(path(progs[p]), &e), 0);
		CHECK_EQ_INT(raw_read(path(progs[p]), &r), 0);
		if (!e || !r.b) {
			hp_elf__close(e);
			free(r.b);
			continue;
		}
		for (unsigned pos = 1; pos <= 2; pos++) {
			CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, pos, &s), 0);
			CHECK(s.size > 4 && s.size <= sizeof(buf));
			if (s.size > sizeof(buf))
				continue;
			CHECK_EQ_INT(hp_elf__read_vaddr(e, s.value, buf, s.size), 0);
			want = raw_vaddr(&r, s.value, s.size);
			CHECK(want != NULL);
			if (want)
				CHECK(!memcmp(buf, want, s.size));
			/* endbr64 with -fcf-protection */
			CHECK(!memcmp(buf, "\xf3\x0f\x1e\xfa", 4));
		}
		/* Initialised data is file-backed, .bss is not. */
		CHECK_EQ_INT(hp_elf__find_symbol(e, "counter_global", NULL, 0, &s), 0);
		CHECK_EQ_INT(hp_elf__read_vaddr(e, s.value, buf, 4), 0);
		CHECK(!memcmp(buf, "\x05\0\0\0", 4));
		bss = raw_scn_by_name(&r, ".bss");
		if (bss && bss->sh_size)
			CHECK_EQ_INT(hp_elf__read_vaddr(e, bss->sh_addr + bss->sh_size - 1, buf, 1),
				     -ERANGE);
		CHECK_EQ_INT(hp_elf__read_vaddr(e, 0x7fff00000000ull, buf, 1), -ERANGE);
		CHECK_EQ_INT(hp_elf__read_vaddr(e, UINT64_MAX, buf, 16), -ERANGE);
		CHECK_EQ_INT(hp_elf__read_vaddr(e, s.value, buf, (size_t)1 << 40), -ERANGE);
		hp_elf__close(e);
		free(r.b);
	}

	{
		struct hp_elf *e = NULL;
		uint8_t b[4];

		CHECK_EQ_INT(hp_elf__open(path("a.o"), &e), 0);
		if (e)
			CHECK_EQ_INT(hp_elf__read_vaddr(e, 0, b, 4), -ERANGE);
		hp_elf__close(e);
	}
	hp_err_clear();
}

/* memcpy's default-version value in libc, read from the raw .dynsym/.gnu.version. */
static uint64_t raw_default_version(struct raw *r, const char *name, int *nversions)
{
	Elf64_Shdr *ds = raw_scn_by_type(r, SHT_DYNSYM), *vs = raw_scn_by_type(r, SHT_GNU_versym);
	Elf64_Shdr *strs;
	uint64_t v = 0;

	*nversions = 0;
	if (!ds || !vs)
		return 0;
	strs = raw_shdr(r, ds->sh_link);
	for (size_t i = 1; i < ds->sh_size / sizeof(Elf64_Sym); i++) {
		Elf64_Sym *s = (Elf64_Sym *)(r->b + ds->sh_offset) + i;
		uint16_t ver = ((uint16_t *)(r->b + vs->sh_offset))[i];

		if (strcmp((const char *)r->b + strs->sh_offset + s->st_name, name) ||
		    s->st_shndx == SHN_UNDEF)
			continue;
		++*nversions;
		if (!(ver & 0x8000))
			v = s->st_value;
	}
	return v;
}

static void test_dynsym_lookup(void)
{
	struct hp_elf *e = NULL;
	struct hp_sym s;
	struct raw r;
	void *h;
	Dl_info info;
	uint64_t want;
	int nver;

	if (access(LIBC, R_OK)) {
		printf("SKIP: test_dynsym_lookup: no %s\n", LIBC);
		return;
	}
	CHECK_EQ_INT(hp_elf__open(LIBC, &e), 0);
	if (!e)
		return;

	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "malloc", &s), 0);
	CHECK_EQ_INT(s.type, STT_FUNC);
	CHECK_EQ_INT(s.bind, STB_GLOBAL);
	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "stdout", &s), 0);
	CHECK_EQ_INT(s.type, STT_OBJECT);
	CHECK_EQ_INT(s.size, 8);
	/* Compare with where the dynamic linker put it in this process. */
	h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	CHECK(h != NULL);
	if (h) {
		void *p = dlsym(h, "stdout");

		CHECK(p && dladdr(p, &info) && info.dli_fbase);
		if (p && info.dli_fbase)
			CHECK_EQ_INT((uint64_t)((char *)p - (char *)info.dli_fbase), s.value);
		p = dlsym(h, "getpid");
		CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "getpid", &s), 0);
		if (p && dladdr(p, &info) && info.dli_fbase)
			CHECK_EQ_INT((uint64_t)((char *)p - (char *)info.dli_fbase), s.value);
		dlclose(h);
	}
	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "environ", &s), 0);
	CHECK_EQ_INT(s.type, STT_OBJECT);
	CHECK(s.bind == STB_WEAK || s.bind == STB_GLOBAL);

	/* memcpy: a hidden compat version (GLIBC_2.2.5) and the default IFUNC. */
	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "memcpy", &s), 0);
	CHECK_EQ_INT(s.type, STT_GNU_IFUNC);
	CHECK_EQ_INT(raw_read(LIBC, &r), 0);
	if (r.b) {
		want = raw_default_version(&r, "memcpy", &nver);
		CHECK(nver >= 2);
		CHECK_EQ_INT(s.value, want);
		free(r.b);
	}

	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "no_such_function_xyz", &s), -HP_E_SYM_NOT_FOUND);
	/* An object without .symtab: find_symbol falls back to .dynsym. */
	CHECK_EQ_INT(hp_elf__find_symbol(e, "malloc", NULL, 0, &s), 0);
	hp_elf__close(e);

	/* The test programs export nothing but import from libc. */
	CHECK_EQ_INT(hp_elf__open(path("prog"), &e), 0);
	if (e) {
		CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "puts", &s), -HP_E_SYM_NOT_FOUND);
		CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "a_func", &s), -HP_E_SYM_NOT_FOUND);
	}
	hp_elf__close(e);

	/* A stripped shared library: only .dynsym. */
	CHECK_EQ_INT(hp_elf__open(path("liba.so"), &e), 0);
	if (e) {
		uint8_t id[64];
		size_t len;

		CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "a_func", &s), 0);
		CHECK_EQ_INT(s.type, STT_FUNC);
		CHECK_EQ_INT(hp_elf__find_symbol(e, "b_func", NULL, 0, &s), 0);
		CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
		CHECK_EQ_INT(hp_elf__build_id(e, id, sizeof(id), &len), 0);
		CHECK(len >= 8);
		CHECK(!strcmp(hp_elf__first_file(e), ""));
	}
	hp_elf__close(e);
	hp_err_clear();
}

static void test_got_slot(void)
{
	const char *progs[] = { "prog", "prog-nopie" };

	for (size_t p = 0; p < 2; p++) {
		struct hp_elf *e = NULL;
		struct raw r;
		uint64_t slot = 0;
		const char *scn;

		CHECK_EQ_INT(hp_elf__open(path(progs[p]), &e), 0);
		CHECK_EQ_INT(raw_read(path(progs[p]), &r), 0);
		if (!e || !r.b) {
			hp_elf__close(e);
			free(r.b);
			continue;
		}
		CHECK_EQ_INT(hp_elf__got_slot(e, "puts", &slot), 0);
		scn = raw_scn_of(&r, slot);
		CHECK(!strcmp(scn, ".got") || !strcmp(scn, ".got.plt"));
		CHECK(slot % 8 == 0);
		CHECK_EQ_INT(hp_elf__got_slot(e, "printf", &slot), 0);
		scn = raw_scn_of(&r, slot);
		CHECK(!strcmp(scn, ".got") || !strcmp(scn, ".got.plt"));
		CHECK_EQ_INT(hp_elf__got_slot(e, "a_func", &slot), -ENOENT);
		CHECK_EQ_INT(hp_elf__got_slot(e, "no_such_import", &slot), -ENOENT);
		hp_elf__close(e);
		free(r.b);
	}
}

static void test_relocatable(void)
{
	struct hp_elf *e = NULL;
	struct hp_sym s;

	CHECK_EQ_INT(hp_elf__open(path("a.o"), &e), 0);
	if (!e)
		return;
	CHECK(!strcmp(hp_elf__first_file(e), "a.c"));
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", NULL, 0, &s), 0);
	CHECK_EQ_INT(s.bind, STB_LOCAL);
	CHECK(!strcmp(s.file, "a.c"));
	CHECK_EQ_INT(s.sympos, 0);
	CHECK(s.size > 0);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "helper", "a.c", 0, &s), 0);
	CHECK_EQ_INT(hp_elf__find_symbol(e, "a_func", NULL, 0, &s), 0);
	CHECK_EQ_INT(s.bind, STB_GLOBAL);
	CHECK_EQ_INT(hp_elf__find_symbol(e, ".text", NULL, 0, &s), -HP_E_SYM_NOT_FOUND);
	uint64_t slot;
	CHECK_EQ_INT(hp_elf__got_slot(e, "helper", &slot), -ENOENT);
	CHECK_EQ_INT(hp_elf__dynsym_lookup(e, "a_func", &s), -HP_E_SYM_NOT_FOUND);
	hp_elf__close(e);

	CHECK_EQ_INT(hp_elf__open(path("prog"), &e), 0);
	if (e)
		CHECK(hp_elf__first_file(e) != NULL);
	hp_elf__close(e);
	hp_err_clear();
}

/* Opens a damaged copy; must fail or, if it opens, answer without crashing. */
static int open_copy(const struct raw *r, size_t len, void (*damage)(uint8_t *, size_t))
{
	struct hp_elf *e = NULL;
	uint8_t *b = malloc(len ? len : 1);
	int rc;

	memcpy(b, r->b, len);
	if (damage)
		damage(b, len);
	write_file("bad", b, len);
	free(b);
	hp_err_clear();
	rc = hp_elf__open(path("bad"), &e);
	if (rc == 0) {
		struct hp_sym s;
		uint8_t buf[64];
		size_t n;
		uint64_t v;

		hp_elf__build_id(e, buf, sizeof(buf), &n);
		hp_elf__find_symbol(e, "helper", NULL, 0, &s);
		hp_elf__find_symbol(e, "a_func", NULL, 0, &s);
		hp_elf__find_symbol(e, "helper", "b.c", 2, &s);
		if (hp_elf__find_symbol(e, "main", NULL, 0, &s) == 0)
			hp_elf__read_vaddr(e, s.value, buf, sizeof(buf));
		hp_elf__dynsym_lookup(e, "puts", &s);
		hp_elf__got_slot(e, "puts", &v);
		hp_elf__first_file(e);
		hp_elf__first_load_vaddr(e);
		hp_elf__close(e);
	} else {
		CHECK(rc < 0);
		CHECK(hp_errmsg()[0] != 0);
	}
	return rc;
}

static void dmg_class32(uint8_t *b, size_t n) { b[EI_CLASS] = ELFCLASS32; }
static void dmg_machine(uint8_t *b, size_t n) { ((Elf64_Ehdr *)b)->e_machine = EM_AARCH64; }
static void dmg_type(uint8_t *b, size_t n) { ((Elf64_Ehdr *)b)->e_type = ET_CORE; }
static void dmg_shoff(uint8_t *b, size_t n) { ((Elf64_Ehdr *)b)->e_shoff = n - 10; }
static void dmg_phoff(uint8_t *b, size_t n) { ((Elf64_Ehdr *)b)->e_phoff = (uint64_t)-64; }

static Elf64_Shdr *dmg_symtab(uint8_t *b)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;

	for (size_t i = 1; i < eh->e_shnum; i++) {
		Elf64_Shdr *s = (Elf64_Shdr *)(b + eh->e_shoff) + i;

		if (s->sh_type == SHT_SYMTAB)
			return s;
	}
	return NULL;
}
static void dmg_link(uint8_t *b, size_t n) { dmg_symtab(b)->sh_link = 9999; }
static void dmg_link_self(uint8_t *b, size_t n)
{
	Elf64_Shdr *s = dmg_symtab(b);

	s->sh_link = (uint32_t)(s - (Elf64_Shdr *)(b + ((Elf64_Ehdr *)b)->e_shoff));
}
static void dmg_entsize(uint8_t *b, size_t n) { dmg_symtab(b)->sh_entsize = 7; }
static void dmg_symsize(uint8_t *b, size_t n) { dmg_symtab(b)->sh_size = (uint64_t)1 << 40; }
static void dmg_symoff(uint8_t *b, size_t n) { dmg_symtab(b)->sh_offset = n - 8; }
static void dmg_name(uint8_t *b, size_t n)
{
	Elf64_Shdr *s = dmg_symtab(b);

	((Elf64_Sym *)(b + s->sh_offset))[3].st_name = 0x7fffffff;
}
static void dmg_shndx(uint8_t *b, size_t n)
{
	Elf64_Shdr *s = dmg_symtab(b);

	((Elf64_Sym *)(b + s->sh_offset))[3].st_shndx = 0xfe00;
}
static void dmg_strtab_unterminated(uint8_t *b, size_t n)
{
	Elf64_Shdr *s = dmg_symtab(b);
	Elf64_Shdr *str = (Elf64_Shdr *)(b + ((Elf64_Ehdr *)b)->e_shoff) + s->sh_link;

	/* the last name loses its terminator */
	str->sh_size--;
}
static void dmg_notes(uint8_t *b, size_t n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;

	for (size_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *p = (Elf64_Phdr *)(b + eh->e_phoff) + i;

		if (p->p_type == PT_NOTE) {
			Elf64_Nhdr *nh = (Elf64_Nhdr *)(b + p->p_offset);

			nh->n_descsz = 0x7ffffff0;
			nh->n_namesz = 0x7ffffff0;
		}
	}
}
static void dmg_load(uint8_t *b, size_t n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;

	for (size_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *p = (Elf64_Phdr *)(b + eh->e_phoff) + i;

		if (p->p_type == PT_LOAD)
			p->p_filesz = p->p_memsz = (uint64_t)1 << 40;
	}
}

static unsigned long rnd = 12345;
static void dmg_random(uint8_t *b, size_t n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	size_t shtab = eh->e_shoff, shlen = (size_t)eh->e_shnum * sizeof(Elf64_Shdr);

	for (int k = 0; k < 4; k++) {
		size_t at;

		rnd = rnd * 6364136223846793005ul + 1442695040888963407ul;
		/* Mostly the headers, sometimes anywhere. */
		switch ((rnd >> 33) % 3) {
		case 0: at = (rnd >> 40) % 64; break;
		case 1: at = shtab + (rnd >> 40) % (shlen ? shlen : 1); break;
		default: at = (rnd >> 20) % n; break;
		}
		if (at < n)
			b[at] ^= (uint8_t)(1u << ((rnd >> 50) % 8)) | (uint8_t)(rnd >> 56);
	}
}

static void test_bad_input(void)
{
	struct hp_elf *e = (struct hp_elf *)1;
	struct raw r;
	static const char text[] = "this is not an ELF file\n";

	CHECK_EQ_INT(hp_elf__open(path("nonexistent"), &e), -ENOENT);
	CHECK(e == NULL);
	CHECK_EQ_INT(hp_elf__open(dir, &e), -HP_E_FORMAT);
	write_file("text", text, sizeof(text) - 1);
	CHECK_EQ_INT(hp_elf__open(path("text"), &e), -HP_E_FORMAT);
	write_file("empty", "", 0);
	CHECK_EQ_INT(hp_elf__open(path("empty"), &e), -HP_E_FORMAT);

	CHECK_EQ_INT(raw_read(path("prog"), &r), 0);
	if (!r.b)
		return;
	CHECK_EQ_INT(open_copy(&r, 16, NULL), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, 64, NULL), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n / 2, NULL), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n - 1, NULL), -HP_E_FORMAT);
	/* An object that says it is 32-bit is taken at its word: not damaged,
	 * not supported. */
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_class32), -HP_E_UNSUPPORTED);
	CHECK(strstr(hp_errmsg(), "not supported (32-bit)") != NULL);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_machine), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_type), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_shoff), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_phoff), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_link), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_link_self), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_entsize), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_symsize), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_symoff), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_name), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_shndx), -HP_E_FORMAT);
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_strtab_unterminated), -HP_E_FORMAT);
	/* A broken note just means no build-id. */
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_notes), 0);
	/* Segments or sections claiming more than the file holds. */
	CHECK_EQ_INT(open_copy(&r, r.n, dmg_load), -HP_E_FORMAT);
	/* Random damage: any answer but a crash (valgrind checks the reads). */
	for (int i = 0; i < 300; i++)
		open_copy(&r, r.n, dmg_random);
	free(r.b);

	/* The same on the relocatable object. */
	CHECK_EQ_INT(raw_read(path("a.o"), &r), 0);
	if (r.b) {
		CHECK_EQ_INT(open_copy(&r, r.n, dmg_link), -HP_E_FORMAT);
		CHECK_EQ_INT(open_copy(&r, r.n, dmg_name), -HP_E_FORMAT);
		for (int i = 0; i < 100; i++)
			open_copy(&r, r.n, dmg_random);
		free(r.b);
	}
	hp_err_clear();
}

/* A genuine 32-bit object (i386 executable header, as gcc -m32 makes it,
 * crafted: no 32-bit toolchain needed) is "not supported (32-bit)", never
 * a malformed file; hp_elf__is_32bit (apply's check of a process's
 * executable) says so without parsing. */
static void test_32bit(void)
{
	Elf32_Ehdr eh = { 0 };
	struct hp_elf *e = NULL;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	write_file("i386", &eh, sizeof(eh));
	hp_err_clear();
	CHECK_EQ_INT(hp_elf__open(path("i386"), &e), -HP_E_UNSUPPORTED);
	CHECK(e == NULL);
	CHECK(strstr(hp_errmsg(), "not supported (32-bit)") != NULL);
	CHECK(strstr(hp_errmsg(), path("i386")) != NULL);
	CHECK_EQ_INT(hp_elf__is_32bit(path("i386")), 1);
	CHECK_EQ_INT(hp_elf__is_32bit(path("prog")), 0);
	CHECK_EQ_INT(hp_elf__is_32bit(path("nonexistent")), -ENOENT);
	hp_err_clear();
}

int main(void)
{
	have_cc = system("cc --version >/dev/null 2>&1") == 0;
	if (!have_cc) {
		printf("SKIP: test-elf: no C compiler\n");
		return 0;
	}
	if (build()) {
		printf("FAIL: build: could not compile the test programs in %s\n", dir);
		return 1;
	}
	RUN(test_open_and_build_id);
	RUN(test_find_symbol);
	RUN(test_read_vaddr);
	RUN(test_dynsym_lookup);
	RUN(test_got_slot);
	RUN(test_relocatable);
	RUN(test_bad_input);
	RUN(test_32bit);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
