/* Unit test of the "loaded, not merely mapped" check of lib/apply/object.c:
 * hp_object__check against maps made up from this test's own program
 * headers (as the loader maps them, then spoiled one way at a time).  No
 * live process: the maps are a list, the file is /proc/self/exe. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "common/common.h"
#include "elf/elf.h"
#include "apply/apply.h"

#define BASE 0x555500000000ull

__attribute__((noipa)) int in_text(int x)
{
	return x * 5 + 3;
}

const char in_rodata[64] = "read-only data, never code";

static struct hp_object obj;
static struct hp_map maps[16];
static size_t nmaps;
static struct hp_patch_func func;
static struct hp_patch patch = { .funcs = &func, .nfuncs = 1 };

/* maps: the executable segments of obj's file as the loader maps them. */
static void loader_maps(void)
{
	struct hp_elf_seg s;

	nmaps = 0;
	for (size_t i = 0; hp_elf__load_seg(obj.elf, i, &s) == 0 && nmaps < 16; i++) {
		if (!(s.flags & PF_X))
			continue;
		maps[nmaps] = (struct hp_map){ .start = BASE + (s.vaddr & ~(PAGE - 1)),
					       .end = BASE + HP_ALIGN_UP(s.vaddr + s.filesz, PAGE),
					       .offset = s.offset & ~(PAGE - 1), .perms = "r-xp",
					       .dev = obj.dev, .inode = obj.inode };
		nmaps++;
	}
}

static void use_function(const char *name)
{
	struct hp_sym s;

	CHECK(hp_elf__find_symbol(obj.elf, name, NULL, 0, &s) == 0);
	func = (struct hp_patch_func){ .old_name = name, .old_addr = s.value,
				       .old_size = s.size ? s.size : 1 };
}

static int check(void)
{
	int r = hp_object__check(&obj, maps, nmaps, &patch, 1234);

	hp_err_clear();
	return r;
}

static void test_loaded(void)
{
	loader_maps();
	CHECK(nmaps > 0);
	use_function("in_text");
	CHECK_EQ_INT(check(), 0);
}

/* mprotect or a second mmap may split a mapping: still the same image. */
static void test_split_mapping(void)
{
	loader_maps();
	use_function("in_text");
	if (maps[0].end - maps[0].start < 2 * PAGE)
		return;	/* one page of code: nothing to split */
	maps[nmaps] = maps[0];
	maps[0].end = maps[0].start + PAGE;
	maps[nmaps].start = maps[0].end;
	maps[nmaps].offset += PAGE;
	for (size_t i = nmaps; i > 1; i--) {
		struct hp_map m = maps[i];

		maps[i] = maps[i - 1];
		maps[i - 1] = m;
	}
	nmaps++;
	CHECK_EQ_INT(check(), 0);
}

/* A scanner's PROT_READ mapping of the file. */
static void test_data_only(void)
{
	loader_maps();
	use_function("in_text");
	for (size_t i = 0; i < nmaps; i++)
		maps[i].perms[2] = '-';
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
	CHECK(hp_object__check(&obj, maps, nmaps, &patch, 1234) < 0 &&
	      strstr(hp_errmsg(), "process 1234 maps /proc/self/exe only as data") != NULL);
	hp_err_clear();
}

/* Code pages of the file, but from another offset than the loader's. */
static void test_wrong_offset(void)
{
	loader_maps();
	use_function("in_text");
	maps[0].offset += PAGE;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
}

/* Executable, at the right offset, but another file. */
static void test_other_file(void)
{
	loader_maps();
	use_function("in_text");
	maps[0].inode++;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
	loader_maps();
	maps[0].dev++;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
}

/* A page of the code missing (unmapped) or mapped elsewhere. */
static void test_hole(void)
{
	loader_maps();
	use_function("in_text");
	maps[0].end -= PAGE;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
	loader_maps();
	maps[0].start += 0x100000;
	maps[0].end += 0x100000;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
}

/* A "function" the image does not map as code. */
static void test_function_not_code(void)
{
	loader_maps();
	use_function("in_rodata");
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
	func.old_addr = UINT64_MAX - 2;
	func.old_size = 16;
	CHECK_EQ_INT(check(), -HP_E_NOT_LOADED);
}

int main(void)
{
	if (hp_elf__open("/proc/self/exe", &obj.elf) < 0) {
		printf("FAIL: open: %s\n", hp_errmsg());
		return 1;
	}
	snprintf(obj.path, sizeof(obj.path), "/proc/self/exe");
	obj.base = BASE;
	obj.dev = 0xfe00;
	obj.inode = 4242;
	RUN(test_loaded);
	RUN(test_split_mapping);
	RUN(test_data_only);
	RUN(test_wrong_offset);
	RUN(test_other_file);
	RUN(test_hole);
	RUN(test_function_not_code);
	hp_object__release(&obj);
	(void)in_text(1);
	TEST_EXIT();
}
