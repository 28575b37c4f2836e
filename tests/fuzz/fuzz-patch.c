/* libFuzzer target over everything hotpatch does with untrusted patch bytes
 * before a process is touched: signature check (when the input carries a
 * signature), parse and plan (layout and relocation, no live target).
 *
 * Input: the bytes of a .hp file.  With FUZZ_SIG, the input is
 * "<minisig text>\0<patch bytes>" and the signature is checked first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/common.h"
#include "apply/apply.h"
#include "patchfile/patchfile.h"
#include "sign/sign.h"

/* A fixed trusted key: fuzzed signatures are checked against it. */
static const char trusted_pub[] =
	"untrusted comment: fuzz key\n"
	"RWTsRDOcaFpLKxO/JR+hbOxyctrZtSPHGLavb2GJ1874jfwzt5+yE9bI\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_patch *p = NULL;
	struct hp_object obj = { .path = "/fuzz/target", .map_files = "/nonexistent",
				 .base = 0x555555554000ull, .lo = 0x555555554000ull,
				 .hi = 0x555555600000ull };
	struct hp_image img;
	uint64_t len;

	hp_err_clear();
	/* "<signature text>\0<patch>": the signature is checked first, as apply does. */
	if (size > 18 && !memcmp(data, "untrusted comment:", 18)) {
		const uint8_t *nul = memchr(data, 0, size);
		struct hp_pubkey key;
		struct hp_sig_info info;

		if (!nul)
			return 0;
		if (hp_pubkey__parse(trusted_pub, sizeof(trusted_pub) - 1, &key) == 0)
			hp_verify(&key, 1, nul + 1, size - (size_t)(nul + 1 - data), (const char *)data, &info);
		size -= (size_t)(nul + 1 - data);
		data = nul + 1;
	}
	if (hp_patch__open_mem(data, size, &p) < 0)
		return 0;
	if (hp_image__size(p, 4096, &len) == 0 && len < (64u << 20)) {
		/* Undefined symbols the target does not define need a live
		 * process to resolve: without one they are refused cleanly. */
		if (hp_image__build(p, NULL, &obj, 0x555555000000ull, 4096, &img) == 0)
			hp_image__free(&img);
	}
	hp_patch__close(p);
	return 0;
}
