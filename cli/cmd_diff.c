/* hotpatch diff: which functions and data objects differ between the object
 * compiled from the original source and the one compiled from the fixed source. */
#include <stdio.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "build/diff.h"
#include "build/extract.h"
#include "cli.h"


/* One section of the human output: the entries of a kind and status. */
static void print_group(const struct hp_diff *d, int kind, int status, const char *title)
{
	size_t n = hp_diff__count_status(d, kind, status);

	if (!n)
		return;
	printf("%s (%zu):\n", title, n);
	for (size_t i = 0; i < hp_diff__count(d); i++) {
		const struct hp_diff_entry *e = hp_diff__entry(d, i);

		if (e->kind != kind || e->status != status)
			continue;
		printf("  %s", e->name);
		if (e->orig_name && e->fixed_name && strcmp(e->orig_name, e->fixed_name))
			printf(" (was %s)", e->orig_name);
		switch (status) {
		case HP_DIFF_CHANGED:
		case HP_DIFF_DATA_CHANGED:
			printf(", %lu -> %lu bytes", (unsigned long)e->orig_size,
			       (unsigned long)e->fixed_size);
			break;
		case HP_DIFF_CHANGED_LINE_ONLY:
			for (size_t k = 0; k < e->nline; k++)
				printf("%s+0x%lx: %u -> %u", k ? "; " : ", immediate at ",
				       (unsigned long)e->line[k].off, e->line[k].orig, e->line[k].fixed);
			break;
		case HP_DIFF_NEW:
			printf(", %lu bytes", (unsigned long)e->fixed_size);
			break;
		case HP_DIFF_REMOVED:
			printf(", %lu bytes", (unsigned long)e->orig_size);
			break;
		}
		printf("%s\n", e->global ? "" : " [local]");
	}
}

static void print_json(const struct hp_diff *d, const char *orig, const char *fixed)
{
	printf("{\"orig\":");
	json_str(stdout, orig);
	printf(",\"fixed\":");
	json_str(stdout, fixed);
	printf(",\"changes\":%s,\"symbols\":[", hp_diff__has_changes(d) ? "true" : "false");
	for (size_t i = 0, k = 0; i < hp_diff__count(d); i++) {
		const struct hp_diff_entry *e = hp_diff__entry(d, i);

		if (e->status == HP_DIFF_SAME)
			continue;
		printf("%s{\"name\":", k++ ? "," : "");
		json_str(stdout, e->name);
		printf(",\"kind\":\"%s\",\"status\":\"%s\",\"global\":%s",
		       e->kind == HP_DIFF_FUNC ? "function" : "data", hp_diff_status_name(e->status),
		       e->global ? "true" : "false");
		if (e->orig_name) {
			printf(",\"orig_name\":");
			json_str(stdout, e->orig_name);
			printf(",\"orig_size\":%lu", (unsigned long)e->orig_size);
		}
		if (e->fixed_name) {
			printf(",\"fixed_name\":");
			json_str(stdout, e->fixed_name);
			printf(",\"fixed_size\":%lu", (unsigned long)e->fixed_size);
		}
		if (e->status == HP_DIFF_CHANGED_LINE_ONLY) {
			printf(",\"lines\":[");
			for (size_t j = 0; j < e->nline; j++)
				printf("%s{\"offset\":%lu,\"orig\":%u,\"fixed\":%u}", j ? "," : "",
				       (unsigned long)e->line[j].off, e->line[j].orig, e->line[j].fixed);
			printf("]");
		}
		printf("}");
	}
	printf("],\"unchanged\":%zu}\n", hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_SAME) +
						hp_diff__count_status(d, HP_DIFF_DATA, HP_DIFF_SAME));
}

/* --extract: what a patch built from this difference would carry. */
static int extract(struct cli *c, const struct hp_diff *d, const char *out)
{
	struct hp_extract_result x;
	int r = hp_extract(d, NULL, out, &x);

	for (size_t i = 0; i < x.nreasons; i++)
		fprintf(stderr, "hotpatch diff: cannot patch live: %s\n", x.reasons[i]);
	if (r < 0 && !x.nreasons)
		r = cli_fail(c, r, "extract to %s", out);
	else if (r < 0)
		r = EXIT_ERROR;
	else if (x.nothing)
		printf("nothing to patch: %s not written\n", out);
	else
		printf("%s: %zu sections, %zu imports; replaces %zu functions\n", out, x.nsections,
		       x.nimports, x.nreplace);
	for (size_t i = 0; r >= 0 && i < x.nreplace; i++)
		printf("  --replace %s\n", x.replace[i]);
	for (size_t i = 0; i < x.nnotes; i++)
		printf("  note: %s\n", x.notes[i]);
	r = r < 0 ? r : x.nothing ? EXIT_NOTHING : EXIT_DONE;
	hp_extract_result__free(&x);
	return r;
}

int cmd_diff(struct cli *c, int argc, char **argv)
{
	const char *files[2] = { NULL, NULL }, *out = NULL;
	struct hp_diff *d = NULL;
	int n = 0, r, changes;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (!strcmp(argv[i], "--extract") && i + 1 < argc) {
			out = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' || n == 2)
			return cli_usage(c, "diff takes ORIG.o FIXED.o, --extract OUT.o and --json");
		files[n++] = argv[i];
	}
	if (n != 2)
		return cli_usage(c, "diff needs ORIG.o and FIXED.o");
	r = hp_diff__objects(files[0], files[1], &d);
	if (r < 0)
		return cli_fail(c, r, "diff %s %s", files[0], files[1]);
	changes = hp_diff__has_changes(d);
	if (out) {
		r = extract(c, d, out);
		hp_diff__free(d);
		return r;
	}
	if (c->json) {
		print_json(d, files[0], files[1]);
	} else {
		print_group(d, HP_DIFF_FUNC, HP_DIFF_CHANGED, "changed functions");
		print_group(d, HP_DIFF_FUNC, HP_DIFF_NEW, "new functions");
		print_group(d, HP_DIFF_FUNC, HP_DIFF_REMOVED, "removed functions");
		print_group(d, HP_DIFF_DATA, HP_DIFF_DATA_CHANGED, "changed data (not patchable)");
		print_group(d, HP_DIFF_DATA, HP_DIFF_NEW, "new data");
		print_group(d, HP_DIFF_DATA, HP_DIFF_REMOVED, "removed data");
		print_group(d, HP_DIFF_FUNC, HP_DIFF_CHANGED_LINE_ONLY,
			    "line-number-only changes (left out; only small constants moved together:\n"
			    "  hotpatch build checks them against the fix's hunks)");
		if (!changes)
			printf("nothing to patch: no code difference\n");
	}
	hp_diff__free(d);
	return changes ? EXIT_DONE : EXIT_NOTHING;
}
