/* hotpatch journal: the records of every apply, revert and refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "journal/journal.h"
#include "cli.h"

/* The value of "key":"..." or "key":N in one of our own JSON lines. */
static void field(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	out[0] = 0;
	p = strstr(line, pat);
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < cap; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = 0;
}

int cmd_journal(struct cli *c, int argc, char **argv)
{
	const char *path = hp_journal__path();
	char line[8192];
	int first = 1;
	FILE *f;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json"))
			return cli_usage(c, "journal takes only --json");
	f = fopen(path, "re");
	if (!f) {
		if (c->json)
			printf("{\"journal\":\"%s\",\"records\":[]}\n", path);
		else
			printf("no journal at %s yet\n", path);
		return EXIT_DONE;
	}
	if (c->json) {
		printf("{\"journal\":");
		json_str(stdout, path);
		printf(",\"records\":[");
	}
	while (fgets(line, sizeof(line), f)) {
		char when[40], op[16], id[80], pid[16], res[24], reason[1024], exe[256], key[32];

		line[strcspn(line, "\n")] = 0;
		if (line[0] != '{')
			continue;
		if (c->json) {
			printf("%s%s", first ? "" : ",", line);
			first = 0;
			continue;
		}
		field(line, "time", when, sizeof(when));
		field(line, "op", op, sizeof(op));
		field(line, "patch_id", id, sizeof(id));
		field(line, "pid", pid, sizeof(pid));
		field(line, "exe", exe, sizeof(exe));
		field(line, "result", res, sizeof(res));
		field(line, "reason", reason, sizeof(reason));
		field(line, "key_id", key, sizeof(key));
		printf("%s  %-6s %-20s pid %-7s %-13s%s%s%s%s\n", when, op, id[0] ? id : "-", pid, res,
		       exe[0] ? " " : "", exe, key[0] ? " key " : "", key);
		if (reason[0])
			printf("    %s\n", reason);
	}
	if (c->json)
		printf("]}\n");
	fclose(f);
	return EXIT_DONE;
}
