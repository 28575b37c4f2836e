/* hotpatch keygen, sign and verify: minisign-compatible signatures of patch files. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hotpatch/hotpatch.h"
#include "sign/sign.h"
#include "common/common.h"
#include "cli.h"

#define DEFAULT_KEYS_DIR "/etc/hotpatch/keys"
#define PASSWORD_MAX 1024

/* An error found before the library ran: the message is ours. */
static int fail_msg(struct cli *c, int err, const char *fmt, const char *arg)
{
	if (c->json) {
		char msg[1024];

		snprintf(msg, sizeof(msg), fmt, arg);
		printf("{\"error\":");
		json_str(stdout, msg);
		printf(",\"code\":%d}\n", -err);
	}
	fprintf(stderr, "%s: ", c->prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

/* Reads the password: the first line of path ("-": standard input), without
 * its line end.  Returns 0, or a negative errno with the message printed. */
static int read_password(struct cli *c, const char *path, char *buf, size_t size)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	size_t n = 0;

	if (fd < 0) {
		int e = errno;
		char what[512];

		snprintf(what, sizeof(what), "cannot open the password file %%s: %s", strerror(e));
		fail_msg(c, -e, what, path);
		return -e;
	}
	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	if (fd > 0)
		close(fd);
	buf[n] = 0;
	if (n && buf[n - 1] == '\r')
		buf[--n] = 0;
	if (n == size - 1) {
		explicit_bzero(buf, size);
		fail_msg(c, -EINVAL, "the password in %s is too long", path);
		return -EINVAL;
	}
	if (!n) {
		fail_msg(c, -EINVAL, "the password file %s is empty", path);
		return -EINVAL;
	}
	return 0;
}

int cmd_keygen(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public", required_argument, 0, 'p' }, { "secret", required_argument, 0, 's' },
		{ "comment", required_argument, 0, 'c' }, { "password-file", required_argument, 0, 'P' },
		{ "json", no_argument, 0, 'j' }, { 0 }
	};
	const char *pub = NULL, *sec = NULL, *comment = NULL, *pwfile = NULL;
	char password[PASSWORD_MAX + 2];
	struct hp_pubkey pk;
	char keyid[2 * HP_KEYID_BYTES + 1];
	int ch, r;

	while ((ch = getopt_long(argc, argv, "p:s:c:P:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': pub = optarg; break;
		case 's': sec = optarg; break;
		case 'c': comment = optarg; break;
		case 'P': pwfile = optarg; break;
		case 'j': break;
		default: return cli_usage(c, "keygen: bad option");
		}
	}
	if (!pub || !sec || optind != argc)
		return cli_usage(c, "keygen needs -p KEY.pub and -s KEY.sec, and nothing else");
	if (pwfile && read_password(c, pwfile, password, sizeof(password)) < 0)
		return EXIT_ERROR;
	r = hp_key__generate(pub, sec, comment, pwfile ? password : NULL);
	explicit_bzero(password, sizeof(password));
	if (r < 0)
		return cli_fail(c, r, "keygen");
	r = hp_pubkey__load(pub, &pk);
	if (r < 0)
		return cli_fail(c, r, "keygen: reading back %s", pub);
	hp_keyid_hex(pk.keyid, keyid);
	if (c->json) {
		printf("{\"public\":");
		json_str(stdout, pub);
		printf(",\"secret\":");
		json_str(stdout, sec);
		printf(",\"key_id\":\"%s\",\"encrypted\":%s}\n", keyid, pwfile ? "true" : "false");
	} else {
		printf("key %s: public key %s, secret key %s (%s)\n", keyid, pub, sec,
		       pwfile ? "encrypted with the password" : "not encrypted: keep it safe");
		printf("To trust it: install -m 0644 -o root %s %s/\n", pub, DEFAULT_KEYS_DIR);
	}
	return EXIT_DONE;
}

/* Replaces bytes that would break the key=value form of the trusted
 * comment (spaces, control characters) with '_'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			*s = '_';
}

int cmd_sign(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret", required_argument, 0, 's' }, { "password-file", required_argument, 0, 'P' },
		{ "trusted-comment", required_argument, 0, 't' }, { "json", no_argument, 0, 'j' },
		{ 0 }
	};
	const char *sec = NULL, *pwfile = NULL, *tc = NULL, *path;
	char password[PASSWORD_MAX + 2] = "";
	struct hp_seckey *sk = NULL;
	struct hp_patch *p = NULL;
	struct hp_patch_info info;
	struct hp_pubkey pk;
	struct hp_sig_info si;
	char keyid[2 * HP_KEYID_BYTES + 1], bid[129], *deftc = NULL, *sig_path = NULL;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "s:P:t:j", opts, NULL)) != -1) {
		switch (ch) {
		case 's': sec = optarg; break;
		case 'P': pwfile = optarg; break;
		case 't': tc = optarg; break;
		case 'j': break;
		default: return cli_usage(c, "sign: bad option");
		}
	}
	if (!sec || optind != argc - 1)
		return cli_usage(c, "sign needs -s KEY.sec and one PATCH.hp");
	path = argv[optind];

	/* Only patch files are signed: open it first, which also checks it. */
	r = hp_patch__open(path, &p);
	if (r < 0)
		return cli_fail(c, r, "sign %s", path);
	hp_patch__info(p, &info);
	if (!tc) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		char *id = strdup(info.id), *file = strdup(base);

		hp_hex(info.build_id, info.build_id_len, bid);
		if (id)
			sanitize(id);
		if (file)
			sanitize(file);
		if (!id || !file ||
		    asprintf(&deftc, "hotpatch id=%s level=%u build-id=%s file=%s timestamp=%lu", id,
			     info.level, bid, file, (unsigned long)time(NULL)) < 0)
			deftc = NULL;
		free(id);
		free(file);
		if (!deftc) {
			hp_patch__close(p);
			return cli_fail(c, -ENOMEM, "sign %s", path);
		}
		tc = deftc;
	}
	hp_patch__close(p);

	if (pwfile && read_password(c, pwfile, password, sizeof(password)) < 0) {
		free(deftc);
		return EXIT_ERROR;
	}
	r = hp_seckey__load(sec, pwfile ? password : NULL, &sk);
	explicit_bzero(password, sizeof(password));
	if (r < 0) {
		free(deftc);
		return cli_fail(c, r, "sign: secret key %s", sec);
	}
	r = hp_sign_file(sk, path, tc);
	hp_seckey__pubkey(sk, &pk);
	hp_seckey__free(sk);
	if (r < 0) {
		free(deftc);
		return cli_fail(c, r, "sign %s", path);
	}
	/* Read back what was written, with the key's own public half. */
	r = hp_verify_file(&pk, 1, path, NULL, &si);
	free(deftc);
	if (r < 0)
		return cli_fail(c, r, "sign %s: the signature written does not verify", path);
	hp_keyid_hex(pk.keyid, keyid);
	if (asprintf(&sig_path, "%s.minisig", path) < 0)
		return EXIT_ERROR;
	if (c->json) {
		printf("{\"file\":");
		json_str(stdout, path);
		printf(",\"signature\":");
		json_str(stdout, sig_path);
		printf(",\"key_id\":\"%s\",\"trusted_comment\":", keyid);
		json_str(stdout, si.trusted_comment);
		printf("}\n");
	} else {
		printf("wrote %s (key %s)\n", sig_path, keyid);
		printf("trusted comment: %s\n", si.trusted_comment);
	}
	free(sig_path);
	return EXIT_DONE;
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public", required_argument, 0, 'p' }, { "keys", required_argument, 0, 'k' },
		{ "signature", required_argument, 0, 'x' }, { "json", no_argument, 0, 'j' },
		{ 0 }
	};
	const char *pub = NULL, *dir = NULL, *sig = NULL, *path;
	struct hp_pubkey *keys = NULL, one;
	struct hp_sig_info si;
	char *own_sig = NULL;
	size_t n = 0;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "p:k:x:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': pub = optarg; break;
		case 'k': dir = optarg; break;
		case 'x': sig = optarg; break;
		case 'j': break;
		default: return cli_usage(c, "verify: bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "verify needs one PATCH.hp");
	if (pub && dir)
		return cli_usage(c, "verify takes either -p KEY.pub or --keys DIR, not both");
	path = argv[optind];
	if (pub) {
		r = hp_pubkey__load(pub, &one);
		if (r < 0)
			return cli_fail(c, r, "verify: public key %s", pub);
		keys = &one;
		n = 1;
	} else {
		if (!dir)
			dir = getenv("HOTPATCH_KEYS");
		if (!dir || !*dir)
			dir = DEFAULT_KEYS_DIR;
		r = hp_trust__load(dir, &keys, &n);
		if (r < 0)
			return cli_fail(c, r, "verify %s: trust store", path);
	}
	if (!sig) {
		if (asprintf(&own_sig, "%s.minisig", path) < 0)
			return fail_msg(c, -ENOMEM, "verify %s: out of memory", path);
		sig = own_sig;
	}
	r = hp_verify_file(keys, n, path, sig, &si);
	if (r < 0) {
		r = cli_fail(c, r, "verify %s", path);
	} else {
		const char *origin = keys[si.key_index].origin;

		if (c->json) {
			printf("{\"file\":");
			json_str(stdout, path);
			printf(",\"signature\":");
			json_str(stdout, sig);
			printf(",\"verified\":true,\"key_id\":\"%s\",\"key_file\":", si.keyid);
			json_str(stdout, origin);
			printf(",\"prehashed\":%s,\"trusted_comment\":", si.prehashed ? "true" : "false");
			json_str(stdout, si.trusted_comment);
			printf("}\n");
		} else {
			printf("%s: good signature by key %s (%s)%s\n", path, si.keyid, origin,
			       si.prehashed ? "" : ", legacy (not prehashed) format");
			printf("trusted comment: %s\n", si.trusted_comment);
		}
		r = EXIT_DONE;
	}
	if (keys != &one)
		free(keys);
	free(own_sig);
	return r;
}
