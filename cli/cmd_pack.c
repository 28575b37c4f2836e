/* hotpatch pack and hotpatch inspect. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hotpatch/hotpatch.h"
#include "common/common.h"
#include "cli.h"

int cmd_pack(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, 0, 't' }, { "output", required_argument, 0, 'o' },
		{ "replace", required_argument, 0, 'r' }, { "id", required_argument, 0, 'i' },
		{ "level", required_argument, 0, 'l' }, { "severity", required_argument, 0, 's' },
		{ "cve", required_argument, 0, 'c' }, { "description", required_argument, 0, 'd' },
		{ "json", no_argument, 0, 'j' }, { 0 }
	};
	struct hp_pack_opts o = { .severity = HP_SEV_IMPORTANT, .level = 1 };
	const char **replace = calloc(argc, sizeof(char *)), **cves = calloc(argc, sizeof(char *));
	char idbuf[64];
	int ch, r;

	if (!replace || !cves)
		return EXIT_ERROR;
	while ((ch = getopt_long(argc, argv, "t:o:r:i:l:s:c:d:j", opts, NULL)) != -1) {
		switch (ch) {
		case 't': o.target = optarg; break;
		case 'o': o.output = optarg; break;
		case 'r': replace[o.nreplace++] = optarg; break;
		case 'i': o.id = optarg; break;
		case 'l': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 1000000)
				return cli_usage(c, "pack: --level takes a number from 1");
			o.level = (uint32_t)v;
			break;
		}
		case 's':
			o.severity = hp_severity_parse(optarg);
			if (o.severity < 0)
				return cli_usage(c, "pack: --severity is critical, important, moderate or low");
			break;
		case 'c': cves[o.ncves++] = optarg; break;
		case 'd': o.description = optarg; break;
		case 'j': break;
		default: return cli_usage(c, "pack: bad option");
		}
	}
	if (!o.target || !o.output || optind >= argc)
		return cli_usage(c, "pack needs --target BIN, -o OUT.hp and at least one OBJ.o");
	o.objs = (const char *const *)argv + optind;
	o.nobjs = (size_t)(argc - optind);
	o.replace = replace;
	o.cves = cves;
	if (!o.id) {
		/* The output file's name without .hp. */
		const char *b = strrchr(o.output, '/') ? strrchr(o.output, '/') + 1 : o.output;
		size_t n = strlen(b);

		if (n > 3 && !strcmp(b + n - 3, ".hp"))
			n -= 3;
		snprintf(idbuf, sizeof(idbuf), "%.*s", (int)(n < 63 ? n : 63), b);
		o.id = idbuf;
	}
	r = hp_pack(&o);
	free(replace);
	free(cves);
	if (r < 0)
		return cli_fail(c, r, "pack %s", o.output);
	if (c->json) {
		printf("{\"output\":");
		json_str(stdout, o.output);
		printf(",\"id\":");
		json_str(stdout, o.id);
		printf(",\"level\":%u}\n", o.level);
	} else {
		printf("wrote %s (patch %s, level %u)\n", o.output, o.id, o.level);
	}
	return EXIT_DONE;
}

int cmd_inspect(struct cli *c, int argc, char **argv)
{
	struct hp_patch *p = NULL;
	struct hp_patch_info info;
	const char *path = NULL;
	char bid[129];
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (argv[i][0] == '-' || path)
			return cli_usage(c, "inspect takes one PATCH.hp and --json");
		path = argv[i];
	}
	if (!path)
		return cli_usage(c, "inspect needs a PATCH.hp");
	r = hp_patch__open(path, &p);
	if (r < 0)
		return cli_fail(c, r, "inspect %s", path);
	hp_patch__info(p, &info);
	hp_hex(info.build_id, info.build_id_len, bid);
	if (c->json) {
		printf("{\"file\":");
		json_str(stdout, path);
		printf(",\"format\":%u,\"id\":", info.format_version);
		json_str(stdout, info.id);
		printf(",\"level\":%u,\"severity\":\"%s\",\"target\":", info.level,
		       hp_severity_name(info.severity));
		json_str(stdout, info.target_name);
		printf(",\"build_id\":\"%s\",\"cves\":", bid);
		json_str(stdout, info.cves);
		printf(",\"description\":");
		json_str(stdout, info.description);
		printf(",\"functions\":[");
	} else {
		printf("patch %s (format %u)\n", info.id, info.format_version);
		printf("  target:      %s, build-id %s\n", info.target_name, bid);
		printf("  level:       %u\n", info.level);
		printf("  severity:    %s\n", hp_severity_name(info.severity));
		printf("  cves:        %s\n", info.cves[0] ? info.cves : "-");
		printf("  description: %s\n", info.description[0] ? info.description : "-");
		printf("  replaces %zu function%s:\n", info.nfuncs, info.nfuncs == 1 ? "" : "s");
	}
	for (size_t i = 0; i < info.nfuncs; i++) {
		struct hp_patch_func f;
		char sha[65];

		hp_patch__func(p, i, &f);
		hp_hex(f.old_sha256, 32, sha);
		if (c->json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, f.old_name);
			printf(",\"file\":");
			json_str(stdout, f.old_file);
			printf(",\"sympos\":%u,\"addr\":\"0x%lx\",\"size\":%lu,\"sha256\":\"%s\",\"new\":",
			       f.old_sympos, (unsigned long)f.old_addr, (unsigned long)f.old_size, sha);
			json_str(stdout, f.new_name);
			printf("}");
		} else {
			printf("    %s%s%s%s at 0x%lx, %lu bytes, sha256 %.16s... -> %s\n", f.old_name,
			       f.old_file[0] ? " (" : "", f.old_file, f.old_file[0] ? ")" : "",
			       (unsigned long)f.old_addr, (unsigned long)f.old_size, sha, f.new_name);
		}
	}
	if (c->json)
		printf("]}\n");
	hp_patch__close(p);
	return EXIT_DONE;
}
