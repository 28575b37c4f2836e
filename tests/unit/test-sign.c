/* Unit test of lib/sign: keys, signatures and the trust store, checked
 * against an independent construction of minisign's formats with libsodium.
 * Needs no root (the owner check of the trust store is only tried as root);
 * everything goes to a temporary directory removed at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
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
#include "sign/sign.h"
#include "harness.h"

static char dir[] = "/tmp/hp-test-sign.XXXXXX";

static char *path(const char *fmt, ...)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8], name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static int write_file(const char *p, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(p, "w");

	if (!f)
		return -1;
	fwrite(data, 1, len, f);
	if (fclose(f))
		return -1;
	return chmod(p, mode);
}

static char *read_text(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = calloc(1, 65536);

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static int errmsg_has(const char *s)
{
	return strstr(hp_errmsg(), s) != NULL;
}

/* ---- an independent construction of the formats ---------------------- */

static char *b64(const void *bin, size_t n)
{
	static char buf[4][512];
	static int i;
	char *p = buf[i++ % 4];

	sodium_bin2base64(p, 512, bin, n, sodium_base64_VARIANT_ORIGINAL);
	return p;
}

static size_t unb64(const char *s, size_t slen, void *out, size_t max)
{
	size_t n = 0;

	if (sodium_base642bin(out, max, s, slen, "\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL))
		return 0;
	return n;
}

/* Line i (from 0) of text into out, without its newline. */
static int line_of(const char *text, int i, char *out, size_t max)
{
	const char *p = text;

	while (i-- > 0) {
		p = strchr(p, '\n');
		if (!p)
			return -1;
		p++;
	}
	size_t n = strcspn(p, "\n");
	if (n >= max)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

/* Replaces line i of text (malloc()ed result). */
static char *with_line(const char *text, int i, const char *line)
{
	char *out = malloc(strlen(text) + strlen(line) + 2);
	const char *p = text, *start, *end;

	for (int k = 0; k < i; k++)
		p = strchr(p, '\n') + 1;
	start = p;
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	sprintf(out, "%.*s%s%s", (int)(start - text), text, line, end);
	return out;
}

struct raw_key {
	uint8_t keyid[8], pk[32], sk[64];
};

static void raw_key_new(struct raw_key *k)
{
	randombytes_buf(k->keyid, 8);
	crypto_sign_keypair(k->pk, k->sk);
}

static char *raw_pub_text(const struct raw_key *k, const char *alg)
{
	uint8_t b[42];
	char *t;

	memcpy(b, alg, 2);
	memcpy(b + 2, k->keyid, 8);
	memcpy(b + 10, k->pk, 32);
	if (asprintf(&t, "untrusted comment: raw test key\n%s\n", b64(b, sizeof(b))) < 0)
		return NULL;
	return t;
}

/* A minisign signature made by hand: legacy ("Ed", over the data) or
 * prehashed ("ED", over BLAKE2b-512 of the data). */
static char *raw_sig_text(const struct raw_key *k, const void *data, size_t len, int prehashed,
			  const char *tc)
{
	uint8_t s[74], global[64], h[64], *st = malloc(64 + strlen(tc));
	char *t;

	memcpy(s, prehashed ? "ED" : "Ed", 2);
	memcpy(s + 2, k->keyid, 8);
	if (prehashed) {
		crypto_generichash(h, 64, (const uint8_t *)data, len, NULL, 0);
		crypto_sign_detached(s + 10, NULL, h, 64, k->sk);
	} else {
		crypto_sign_detached(s + 10, NULL, data, len, k->sk);
	}
	memcpy(st, s + 10, 64);
	memcpy(st + 64, tc, strlen(tc));
	crypto_sign_detached(global, NULL, st, 64 + strlen(tc), k->sk);
	free(st);
	if (asprintf(&t, "untrusted comment: by hand\n%s\ntrusted comment: %s\n%s\n", b64(s, 74), tc,
		     b64(global, 64)) < 0)
		return NULL;
	return t;
}

/* ---- the tests --------------------------------------------------------- */

static const char data[] = "the bytes of a patch file\0with a NUL inside";

static void test_generate_sign_verify(void)
{
	struct hp_pubkey pk;
	struct hp_seckey *sk = NULL;
	struct hp_sig_info info;
	struct stat st;
	char *sig = NULL, *pubtext, line[512], id[17];
	uint8_t raw[74], g[64], h[64], *st_tc;

	CHECK_EQ_INT(hp_key__generate(path("a.pub"), path("a.sec"), "unit test", NULL), 0);
	CHECK(stat(path("a.sec"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(path("a.pub"), &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_EQ_INT(hp_pubkey__load(path("a.pub"), &pk), 0);
	CHECK(!strcmp(pk.origin, path("a.pub")));
	hp_keyid_hex(pk.keyid, id);
	pubtext = read_text(path("a.pub"));
	CHECK(pubtext && strstr(pubtext, id));	/* "minisign public key <id>" */
	free(pubtext);
	CHECK_EQ_INT(hp_seckey__load(path("a.sec"), NULL, &sk), 0);
	if (!sk)
		return;
	CHECK_EQ_INT(hp_sign(sk, data, sizeof(data), "id=x level=1", NULL, &sig), 0);
	if (!sig) {
		hp_seckey__free(sk);
		return;
	}
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), sig, &info), 0);
	CHECK(!strcmp(info.trusted_comment, "id=x level=1"));
	CHECK(!strcmp(info.keyid, id));
	CHECK_EQ_INT(info.prehashed, 1);
	CHECK_EQ_INT(info.key_index, 0);

	/* Independently: "ED", the key id, Ed25519 over BLAKE2b-512 of the data,
	 * and the global signature over signature || trusted comment. */
	CHECK(!line_of(sig, 1, line, sizeof(line)) && unb64(line, strlen(line), raw, 74) == 74);
	CHECK(!memcmp(raw, "ED", 2) && !memcmp(raw + 2, pk.keyid, 8));
	crypto_generichash(h, 64, (const uint8_t *)data, sizeof(data), NULL, 0);
	CHECK(crypto_sign_verify_detached(raw + 10, h, 64, pk.pk) == 0);
	CHECK(!line_of(sig, 2, line, sizeof(line)) && !strcmp(line, "trusted comment: id=x level=1"));
	CHECK(!line_of(sig, 3, line, sizeof(line)) && unb64(line, strlen(line), g, 64) == 64);
	st_tc = malloc(64 + 12);
	memcpy(st_tc, raw + 10, 64);
	memcpy(st_tc + 64, "id=x level=1", 12);
	CHECK(crypto_sign_verify_detached(g, st_tc, 76, pk.pk) == 0);
	free(st_tc);

	/* Never overwrites a key; creates nothing when refusing. */
	CHECK_EQ_INT(hp_key__generate(path("a.pub"), path("b.sec"), NULL, NULL), -EEXIST);
	CHECK(access(path("b.sec"), F_OK) != 0);
	CHECK_EQ_INT(hp_key__generate(path("b.pub"), path("a.sec"), NULL, NULL), -EEXIST);
	CHECK(access(path("b.pub"), F_OK) != 0);
	CHECK(errmsg_has("already exists"));
	free(sig);
	hp_seckey__free(sk);
}

static void test_tampering_refused(void)
{
	struct hp_pubkey pk;
	struct hp_seckey *sk = NULL;
	struct hp_sig_info info;
	char *sig = NULL, *bad, line[512], *enc;
	uint8_t copy[sizeof(data)], raw[74];

	if (hp_pubkey__load(path("a.pub"), &pk) || hp_seckey__load(path("a.sec"), NULL, &sk)) {
		CHECK(!"key of the first test");
		return;
	}
	CHECK_EQ_INT(hp_sign(sk, data, sizeof(data), "level=1", NULL, &sig), 0);
	hp_seckey__free(sk);
	if (!sig)
		return;

	/* A flipped bit anywhere in the data. */
	for (size_t i = 0; i < sizeof(data); i += 7) {
		memcpy(copy, data, sizeof(data));
		copy[i] ^= 0x10;
		CHECK_EQ_INT(hp_verify(&pk, 1, copy, sizeof(copy), sig, &info), -EBADMSG);
	}
	CHECK(errmsg_has("does not match the data"));
	CHECK(info.trusted_comment[0] == 0);	/* not handed out when it fails */
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data) - 1, sig, NULL), -EBADMSG);

	/* A flipped byte in the signature (re-encoded, so it still parses). */
	line_of(sig, 1, line, sizeof(line));
	unb64(line, strlen(line), raw, 74);
	raw[40] ^= 1;
	enc = b64(raw, 74);
	bad = with_line(sig, 1, enc);
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), bad, NULL), -EBADMSG);
	free(bad);

	/* The trusted comment changed, and the global signature flipped. */
	bad = with_line(sig, 2, "trusted comment: level=9");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), bad, NULL), -EBADMSG);
	CHECK(errmsg_has("trusted comment"));
	free(bad);
	bad = with_line(sig, 2, "trusted comment: level=1 ");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), bad, NULL), -EBADMSG);
	free(bad);
	line_of(sig, 3, line, sizeof(line));
	line[5] = line[5] == 'A' ? 'B' : 'A';
	bad = with_line(sig, 3, line);
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), bad, NULL), -EBADMSG);
	free(bad);

	/* The untrusted comment is not signed: changing it changes nothing. */
	bad = with_line(sig, 0, "untrusted comment: anything at all");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), bad, NULL), 0);
	free(bad);
	free(sig);
}

static void test_unknown_key(void)
{
	struct hp_pubkey keys[2];
	struct hp_seckey *sk = NULL;
	struct hp_sig_info info;
	char *sig = NULL, ida[17], idb[17];

	CHECK_EQ_INT(hp_key__generate(path("b.pub"), path("b.sec"), NULL, NULL), 0);
	if (hp_pubkey__load(path("a.pub"), &keys[0]) || hp_pubkey__load(path("b.pub"), &keys[1]) ||
	    hp_seckey__load(path("b.sec"), NULL, &sk)) {
		CHECK(!"keys load");
		return;
	}
	CHECK_EQ_INT(hp_sign(sk, data, sizeof(data), NULL, "my comment", &sig), 0);
	hp_seckey__free(sk);
	if (!sig)
		return;
	CHECK(!strncmp(sig, "untrusted comment: my comment\n", 30));
	hp_keyid_hex(keys[0].keyid, ida);
	hp_keyid_hex(keys[1].keyid, idb);
	CHECK_EQ_INT(hp_verify(&keys[0], 1, data, sizeof(data), sig, &info), -ENOKEY);
	CHECK(errmsg_has(idb) && errmsg_has(ida));
	CHECK(!strcmp(info.keyid, idb));
	CHECK_EQ_INT(hp_verify(keys, 0, data, sizeof(data), sig, NULL), -ENOKEY);
	CHECK_EQ_INT(hp_verify(keys, 2, data, sizeof(data), sig, &info), 0);
	CHECK_EQ_INT(info.key_index, 1);
	CHECK(!strncmp(info.trusted_comment, "timestamp:", 10));

	/* Same key id, other public key: the id alone proves nothing. */
	memcpy(keys[0].keyid, keys[1].keyid, 8);
	CHECK_EQ_INT(hp_verify(&keys[0], 1, data, sizeof(data), sig, NULL), -EBADMSG);
	CHECK_EQ_INT(hp_verify(keys, 2, data, sizeof(data), sig, &info), 0);
	CHECK_EQ_INT(info.key_index, 1);
	free(sig);
}

static void test_legacy_and_hand_made(void)
{
	struct raw_key k;
	struct hp_pubkey pk;
	struct hp_sig_info info;
	char *pub, *sig;

	raw_key_new(&k);
	pub = raw_pub_text(&k, "Ed");
	CHECK_EQ_INT(hp_pubkey__parse(pub, strlen(pub), &pk), 0);
	CHECK(!memcmp(pk.keyid, k.keyid, 8) && !memcmp(pk.pk, k.pk, 32));
	free(pub);

	sig = raw_sig_text(&k, data, sizeof(data), 0, "legacy one");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), sig, &info), 0);
	CHECK_EQ_INT(info.prehashed, 0);
	CHECK(!strcmp(info.trusted_comment, "legacy one"));
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data) - 2, sig, NULL), -EBADMSG);
	free(sig);

	sig = raw_sig_text(&k, data, sizeof(data), 1, "tab\tseparated\tlike minisign");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), sig, &info), 0);
	CHECK_EQ_INT(info.prehashed, 1);
	CHECK(!strcmp(info.trusted_comment, "tab\tseparated\tlike minisign"));
	free(sig);

	/* CRLF line ends, as a file edited on another system may have. */
	sig = raw_sig_text(&k, data, sizeof(data), 1, "crlf");
	{
		char *crlf = malloc(2 * strlen(sig) + 1), *o = crlf;

		for (const char *s = sig; *s; s++) {
			if (*s == '\n')
				*o++ = '\r';
			*o++ = *s;
		}
		*o = 0;
		CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), crlf, &info), 0);
		CHECK(!strcmp(info.trusted_comment, "crlf"));
		free(crlf);
	}
	free(sig);

	/* Empty data signs and verifies too. */
	sig = raw_sig_text(&k, "", 0, 0, "empty");
	CHECK_EQ_INT(hp_verify(&pk, 1, "", 0, sig, NULL), 0);
	free(sig);
}

static void test_encrypted_key(void)
{
	struct hp_seckey *sk = NULL;
	struct hp_pubkey pk, pk2;
	char *text, line[512], *sig = NULL;
	uint8_t raw[158];
	uint64_t ops = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN;
	uint64_t mem = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN;

	CHECK_EQ_INT(hp_key__generate_kdf(path("e.pub"), path("e.sec"), NULL, "correct horse", ops, mem), 0);
	text = read_text(path("e.sec"));
	CHECK(text && !line_of(text, 1, line, sizeof(line)) && unb64(line, strlen(line), raw, 158) == 158);
	free(text);
	CHECK(!memcmp(raw, "EdScB2", 6));
	CHECK(raw[38] == (ops & 0xff) && raw[39] == ((ops >> 8) & 0xff));	/* le64 opslimit */
	CHECK(raw[46 + 3] == ((mem >> 24) & 0xff));				/* le64 memlimit */

	CHECK_EQ_INT(hp_seckey__load(path("e.sec"), "wrong horse", &sk), -EACCES);
	CHECK(sk == NULL && errmsg_has("wrong password"));
	CHECK_EQ_INT(hp_seckey__load(path("e.sec"), NULL, &sk), -EACCES);
	CHECK(errmsg_has("encrypted"));
	CHECK_EQ_INT(hp_seckey__load(path("e.sec"), "correct horse", &sk), 0);
	if (!sk)
		return;
	CHECK_EQ_INT(hp_pubkey__load(path("e.pub"), &pk), 0);
	hp_seckey__pubkey(sk, &pk2);
	CHECK(!memcmp(pk.keyid, pk2.keyid, 8) && !memcmp(pk.pk, pk2.pk, 32));
	CHECK_EQ_INT(hp_sign(sk, data, sizeof(data), "enc", NULL, &sig), 0);
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), sig, NULL), 0);
	free(sig);
	hp_seckey__free(sk);

	/* Out of range scrypt parameters are refused, not run. */
	CHECK_EQ_INT(hp_key__generate_kdf(path("f.pub"), path("f.sec"), NULL, "x", 1, 1), -EINVAL);
}

/* A secret key file written by hand: kdf "\0\0" and a zero checksum, as
 * `minisign -G -W` writes it; or with a checksum. */
static char *raw_sec_text(const struct raw_key *k, const char *alg, const char *kdf, const char *chk_alg,
			  int with_chk)
{
	uint8_t b[158] = { 0 };
	char *t;

	memcpy(b, alg, 2);
	memcpy(b + 2, kdf, 2);
	memcpy(b + 4, chk_alg, 2);
	memcpy(b + 54, k->keyid, 8);
	memcpy(b + 62, k->sk, 64);
	if (with_chk) {
		crypto_generichash_state hs;

		crypto_generichash_init(&hs, NULL, 0, 32);
		crypto_generichash_update(&hs, b, 2);
		crypto_generichash_update(&hs, b + 54, 8 + 64);
		crypto_generichash_final(&hs, b + 126, 32);
	}
	if (with_chk < 0)
		b[126] ^= 1;
	if (asprintf(&t, "untrusted comment: minisign encrypted secret key\n%s\n", b64(b, 158)) < 0)
		return NULL;
	return t;
}

static void test_unencrypted_minisign_style(void)
{
	struct raw_key k;
	struct hp_seckey *sk = NULL;
	struct hp_pubkey pk;
	char *t, *sig = NULL;

	raw_key_new(&k);
	t = raw_sec_text(&k, "Ed", "\0\0", "B2", 0);
	write_file(path("w.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("w.sec"), NULL, &sk), 0);
	if (sk) {
		hp_seckey__pubkey(sk, &pk);
		CHECK(!memcmp(pk.pk, k.pk, 32) && !memcmp(pk.keyid, k.keyid, 8));
		CHECK_EQ_INT(hp_sign(sk, data, sizeof(data), "w", NULL, &sig), 0);
		CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), sig, NULL), 0);
		free(sig);
		hp_seckey__free(sk);
	}
	t = raw_sec_text(&k, "Ed", "\0\0", "B2", 1);
	write_file(path("w1.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("w1.sec"), NULL, &sk), 0);
	hp_seckey__free(sk);
	sk = NULL;
	t = raw_sec_text(&k, "Ed", "\0\0", "B2", -1);
	write_file(path("w2.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("w2.sec"), NULL, &sk), -EINVAL);
	CHECK(errmsg_has("checksum"));
	/* The public half inside the secret key must belong to it. */
	k.sk[40] ^= 1;
	t = raw_sec_text(&k, "Ed", "\0\0", "B2", 0);
	write_file(path("w3.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("w3.sec"), NULL, &sk), -EINVAL);
	CHECK(sk == NULL);
}

static void test_malformed(void)
{
	struct raw_key k;
	struct hp_pubkey pk;
	struct hp_seckey *sk = NULL;
	char *good_pub, *good_sig, *t, line[512];
	static const char *const bad_pubs[] = {
		"",
		"\n\n",
		"untrusted comment: only a comment\n",
		"RWQkBGziYxYrJ9X48nKFdoT9z9lAu8lM2zHqZKTMqIgA8LwpaJw5BW/c\n",	/* no comment line */
		"untrusted comment: x\nRWQkBGziYxYrJ9X48nKFdoT9z9lAu8lM2zHqZKTMqIgA8Lwpa\n",	/* truncated */
		"untrusted comment: x\nRWQkBGziYxYrJ9X48nKFdoT9z9lAu8lM2zHqZKTMqIgA8LwpaJw5BW/cAAAA\n",
		"untrusted comment: x\nRWQkBGziYxYrJ9X48nKFdoT9z9lAu8lM2zHqZKTMqIgA8LwpaJw5BW/*\n",
		"untrusted comment: x\n\nRWQkBGziYxYrJ9X48nKFdoT9z9lAu8lM2zHqZKTMqIgA8LwpaJw5BW/c\n",
		"\x7f" "ELF binary garbage",
	};

	for (size_t i = 0; i < HP_ARRAY_SIZE(bad_pubs); i++) {
		CHECK_EQ_INT(hp_pubkey__parse(bad_pubs[i], strlen(bad_pubs[i]), &pk), -EINVAL);
		CHECK(hp_errmsg()[0]);
	}
	raw_key_new(&k);
	t = raw_pub_text(&k, "Xd");	/* wrong algorithm */
	CHECK_EQ_INT(hp_pubkey__parse(t, strlen(t), &pk), -EINVAL);
	CHECK(errmsg_has("algorithm"));
	free(t);
	good_pub = raw_pub_text(&k, "Ed");
	CHECK_EQ_INT(hp_pubkey__parse(good_pub, strlen(good_pub), &pk), 0);
	/* Every truncation of a good key is refused. */
	for (size_t n = 0; n + 1 < strlen(good_pub); n++)
		CHECK_EQ_INT(hp_pubkey__parse(good_pub, n, &pk) == 0, 0);
	CHECK_EQ_INT(hp_pubkey__load(path("does-not-exist.pub"), &pk), -ENOENT);
	CHECK_EQ_INT(hp_pubkey__load(dir, &pk), -EINVAL);	/* a directory */

	/* Signatures. */
	good_sig = raw_sig_text(&k, data, sizeof(data), 1, "tc");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), good_sig, NULL), 0);
	for (size_t n = 0; n + 1 < strlen(good_sig); n++) {
		char *cut = strndup(good_sig, n);

		CHECK(hp_verify(&pk, 1, data, sizeof(data), cut, NULL) < 0);
		free(cut);
	}
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), "", NULL), -EINVAL);
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), NULL, NULL), -EINVAL);
	/* Line 2 cut short. */
	line_of(good_sig, 1, line, sizeof(line));
	line[20] = 0;
	t = with_line(good_sig, 1, line);
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), t, NULL), -EINVAL);
	CHECK(errmsg_has("base64"));
	free(t);
	/* Unknown algorithm bytes ("Ex"). */
	{
		uint8_t raw[74];

		line_of(good_sig, 1, line, sizeof(line));
		unb64(line, strlen(line), raw, 74);
		raw[1] = 'x';
		t = with_line(good_sig, 1, b64(raw, 74));
		CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), t, NULL), -EINVAL);
		CHECK(errmsg_has("algorithm"));
		free(t);
	}
	/* Missing or misnamed lines. */
	t = with_line(good_sig, 2, "comment: tc");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), t, NULL), -EINVAL);
	free(t);
	t = with_line(good_sig, 0, "a comment without the prefix");
	CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), t, NULL), -EINVAL);
	free(t);
	{
		char l1[512], l3[512], *two;

		line_of(good_sig, 1, l1, sizeof(l1));
		line_of(good_sig, 3, l3, sizeof(l3));
		if (asprintf(&two, "untrusted comment: x\n%s\n%s\n", l1, l3) > 0) {	/* no trusted comment */
			CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), two, NULL), -EINVAL);
			free(two);
		}
		if (asprintf(&two, "untrusted comment: x\n%s\ntrusted comment: tc\n", l1) > 0) {
			CHECK_EQ_INT(hp_verify(&pk, 1, data, sizeof(data), two, NULL), -EINVAL);
			CHECK(errmsg_has("missing"));
			free(two);
		}
	}
	/* Random bytes. */
	for (int i = 0; i < 200; i++) {
		char junk[300];

		randombytes_buf(junk, sizeof(junk) - 1);
		junk[sizeof(junk) - 1] = 0;
		CHECK(hp_verify(&pk, 1, data, sizeof(data), junk, NULL) == -EINVAL);
	}
	free(good_sig);

	/* Secret keys: wrong algorithms, truncated. */
	t = raw_sec_text(&k, "Xd", "\0\0", "B2", 1);
	write_file(path("m1.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("m1.sec"), NULL, &sk), -EINVAL);
	t = raw_sec_text(&k, "Ed", "Ar", "B2", 1);
	write_file(path("m2.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("m2.sec"), "pw", &sk), -EINVAL);
	CHECK(errmsg_has("key derivation"));
	t = raw_sec_text(&k, "Ed", "\0\0", "S2", 1);
	write_file(path("m3.sec"), t, strlen(t), 0600);
	free(t);
	CHECK_EQ_INT(hp_seckey__load(path("m3.sec"), NULL, &sk), -EINVAL);
	CHECK(errmsg_has("checksum"));
	t = raw_sec_text(&k, "Ed", "\0\0", "B2", 1);
	for (size_t n = 0; n + 1 < strlen(t); n += 3) {
		write_file(path("m4.sec"), t, n, 0600);
		CHECK(hp_seckey__load(path("m4.sec"), NULL, &sk) == -EINVAL);
	}
	free(t);
	CHECK(sk == NULL);
	free(good_pub);
}

static void test_comments_checked(void)
{
	struct hp_seckey *sk = NULL;
	char *sig = NULL, *longc;

	if (hp_seckey__load(path("a.sec"), NULL, &sk)) {
		CHECK(!"key");
		return;
	}
	CHECK_EQ_INT(hp_sign(sk, data, 4, "two\nlines", NULL, &sig), -EINVAL);
	CHECK_EQ_INT(hp_sign(sk, data, 4, "cr\r", NULL, &sig), -EINVAL);
	CHECK_EQ_INT(hp_sign(sk, data, 4, "ok", "bad\nuntrusted", &sig), -EINVAL);
	CHECK(sig == NULL);
	longc = malloc(HP_TRUSTED_COMMENT_MAX + 2);
	memset(longc, 'x', HP_TRUSTED_COMMENT_MAX + 1);
	longc[HP_TRUSTED_COMMENT_MAX + 1] = 0;
	CHECK_EQ_INT(hp_sign(sk, data, 4, longc, NULL, &sig), -EINVAL);
	longc[HP_TRUSTED_COMMENT_MAX] = 0;	/* exactly the maximum */
	CHECK_EQ_INT(hp_sign(sk, data, 4, longc, NULL, &sig), 0);
	if (sig) {
		struct hp_pubkey pk;
		struct hp_sig_info info;

		hp_seckey__pubkey(sk, &pk);
		CHECK_EQ_INT(hp_verify(&pk, 1, data, 4, sig, &info), 0);
		CHECK_EQ_INT(strlen(info.trusted_comment), HP_TRUSTED_COMMENT_MAX);
	}
	free(sig);
	free(longc);
	CHECK_EQ_INT(hp_key__generate(path("c.pub"), path("c.sec"), "two\nlines", NULL), -EINVAL);
	CHECK(access(path("c.pub"), F_OK) != 0 && access(path("c.sec"), F_OK) != 0);
	hp_seckey__free(sk);
}

static void test_sign_file(void)
{
	struct hp_seckey *sk = NULL;
	struct hp_pubkey pk;
	struct hp_sig_info info;
	struct stat st;
	char p[512], sp[512];
	static uint8_t big[300000];

	snprintf(p, sizeof(p), "%s", path("patch.hp"));
	snprintf(sp, sizeof(sp), "%s", path("patch.hp.minisig"));
	randombytes_buf(big, sizeof(big));
	write_file(p, big, sizeof(big), 0644);
	if (hp_seckey__load(path("a.sec"), NULL, &sk) || hp_pubkey__load(path("a.pub"), &pk)) {
		CHECK(!"key");
		return;
	}
	CHECK_EQ_INT(hp_sign_file(sk, p, "file comment"), 0);
	CHECK(stat(sp, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_EQ_INT(hp_verify_file(&pk, 1, p, NULL, &info), 0);
	CHECK(!strcmp(info.trusted_comment, "file comment"));
	/* The same bytes in memory verify with the file's signature. */
	{
		char *text = read_text(sp);

		CHECK_EQ_INT(hp_verify(&pk, 1, big, sizeof(big), text, NULL), 0);
		free(text);
	}
	/* Signing again replaces it; the default comment is minisign's. */
	CHECK_EQ_INT(hp_sign_file(sk, p, NULL), 0);
	CHECK_EQ_INT(hp_verify_file(&pk, 1, p, sp, &info), 0);
	CHECK(strstr(info.trusted_comment, "file:patch.hp\thashed") != NULL);
	/* Nothing temporary left beside it. */
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s | grep 'minisig.')\"", dir);
		CHECK(system(cmd) == 0);
	}
	big[123456] ^= 1;
	write_file(p, big, sizeof(big), 0644);
	CHECK_EQ_INT(hp_verify_file(&pk, 1, p, NULL, NULL), -EBADMSG);
	CHECK_EQ_INT(hp_verify_file(&pk, 1, path("nothing.hp"), NULL, NULL), -ENOENT);
	CHECK_EQ_INT(hp_sign_file(sk, path("nothing.hp"), NULL), -ENOENT);
	hp_seckey__free(sk);
}

static void test_trust_store(void)
{
	struct hp_pubkey *keys = NULL;
	size_t n = 99;
	char td[512], pub[512];
	char *a = read_text(path("a.pub")), *b = read_text(path("b.pub"));

	snprintf(td, sizeof(td), "%s", path("trust"));	/* path()'s buffers are reused */
	snprintf(pub, sizeof(pub), "%s", path("trust/b.pub"));
	CHECK_EQ_INT(mkdir(td, 0755), 0);
	chmod(td, 0755);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -ENOKEY);
	CHECK(errmsg_has("no trusted keys in") && errmsg_has(td));
	CHECK(keys == NULL && n == 0);
	CHECK_EQ_INT(hp_trust__load(path("no-such-dir"), &keys, &n), -ENOKEY);

	write_file(path("trust/b.pub"), b, strlen(b), 0644);
	write_file(path("trust/a.pub"), a, strlen(a), 0644);
	write_file(path("trust/README"), "not a key", 9, 0666);	/* ignored: not *.pub */
	write_file(path("trust/.hidden.pub"), "junk", 4, 0666);		/* ignored: hidden */
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), 0);
	CHECK_EQ_INT(n, 2);
	if (keys && n == 2) {
		CHECK(!strcmp(keys[0].origin, path("trust/a.pub")));	/* name order */
		CHECK(!strcmp(keys[1].origin, path("trust/b.pub")));
	}
	free(keys);
	keys = NULL;

	/* A directory anyone can write to is refused, with the fix. */
	chmod(td, 0777);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	CHECK(errmsg_has("chmod go-w") && errmsg_has(td));
	chmod(td, 0775);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	chmod(td, 0755);

	/* So is a key file anyone can write to. */
	chmod(pub, 0666);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	CHECK(errmsg_has("chmod go-w") && errmsg_has(pub));
	chmod(pub, 0620);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	chmod(pub, 0644);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), 0);
	free(keys);
	keys = NULL;

	/* Owned by another user (only root can arrange that). */
	if (geteuid() == 0) {
		CHECK_EQ_INT(chown(pub, 65534, 65534), 0);
		CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
		CHECK(errmsg_has("chown root"));
		chown(pub, 0, 0);
		CHECK_EQ_INT(chown(td, 65534, 65534), 0);
		CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
		CHECK(errmsg_has("chown root") && errmsg_has(td));
		chown(td, 0, 0);
	}

	/* A damaged key fails the whole store, naming the file. */
	write_file(path("trust/c.pub"), "untrusted comment: x\nnot base64\n", 32, 0644);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EINVAL);
	CHECK(errmsg_has("c.pub") && keys == NULL);
	unlink(path("trust/c.pub"));
	free(a);
	free(b);
}

/* The paths to the store and to each key, as sshd's StrictModes checks
 * them: every directory a name is looked up in must be root's (or ours)
 * and writable by nobody else, except a sticky one (like /tmp, where this
 * test lives); a symlinked key is checked where it leads. */
static void test_trust_store_paths(void)
{
	struct hp_pubkey *keys = NULL;
	size_t n = 99;
	char p[512], td[512], ww[512], ok[512], s[512], st2[512];
	char *a = read_text(path("a.pub"));

	snprintf(p, sizeof(p), "%s", path("p"));
	snprintf(td, sizeof(td), "%s", path("p/trust"));
	snprintf(ww, sizeof(ww), "%s", path("ww"));
	snprintf(ok, sizeof(ok), "%s", path("ok"));
	snprintf(s, sizeof(s), "%s", path("s"));
	snprintf(st2, sizeof(st2), "%s", path("s2"));
	CHECK_EQ_INT(mkdir(p, 0755), 0);
	CHECK_EQ_INT(mkdir(td, 0755), 0);
	chmod(p, 0755);
	chmod(td, 0755);
	write_file(path("p/trust/a.pub"), a, strlen(a), 0644);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), 0);
	free(keys);
	keys = NULL;

	/* A parent of the store writable by its group, or by others: whoever
	 * can write there can rename the store away and put their own. */
	chmod(p, 0775);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	CHECK(errmsg_has("chmod go-w") && errmsg_has(p) && errmsg_has("its group"));
	CHECK(keys == NULL && n == 0);
	chmod(p, 0757);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	CHECK(errmsg_has("chmod go-w") && errmsg_has(p));
	/* Sticky (like /tmp): others cannot rename or remove what is not theirs. */
	chmod(p, 01777);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), 0);
	free(keys);
	keys = NULL;
	/* ... but the store itself sticky and world-writable: anyone adds a key. */
	chmod(td, 01777);
	CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
	CHECK(errmsg_has("chmod go-w") && errmsg_has(td));
	chmod(td, 0755);
	chmod(p, 0755);

	/* Through a relative path: the current directory's parents count too. */
	{
		char cwd[4096];

		if (getcwd(cwd, sizeof(cwd)) && chdir(dir) == 0) {
			CHECK_EQ_INT(hp_trust__load("p/trust", &keys, &n), 0);
			free(keys);
			keys = NULL;
			chmod(p, 0777);
			CHECK_EQ_INT(hp_trust__load("p/./trust/", &keys, &n), -EPERM);
			CHECK(errmsg_has(p) && errmsg_has("chmod go-w"));
			chmod(p, 0755);
			CHECK(chdir(cwd) == 0);
		}
	}

	/* A key that is a symlink is checked where it leads: into a directory
	 * anyone can write (not sticky), refused naming that directory ... */
	CHECK_EQ_INT(mkdir(ww, 0777), 0);
	chmod(ww, 0777);
	CHECK_EQ_INT(mkdir(ok, 0755), 0);
	CHECK_EQ_INT(mkdir(s, 0755), 0);
	write_file(path("ww/k.pub"), a, strlen(a), 0644);
	write_file(path("ok/k.pub"), a, strlen(a), 0644);
	CHECK_EQ_INT(symlink("../ww/k.pub", path("s/k.pub")), 0);
	CHECK_EQ_INT(hp_trust__load(s, &keys, &n), -EPERM);
	CHECK(errmsg_has(ww) && errmsg_has("chmod go-w"));
	CHECK(keys == NULL && n == 0);
	/* ... into a safe one, accepted (and known by its name in the store). */
	unlink(path("s/k.pub"));
	CHECK_EQ_INT(symlink(path("ok/k.pub"), path("s/k.pub")), 0);
	CHECK_EQ_INT(hp_trust__load(s, &keys, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (keys && n == 1)
		CHECK(!strcmp(keys[0].origin, path("s/k.pub")));
	free(keys);
	keys = NULL;
	/* The target file itself writable by others: named by its real path. */
	chmod(path("ok/k.pub"), 0666);
	CHECK_EQ_INT(hp_trust__load(s, &keys, &n), -EPERM);
	CHECK(errmsg_has(path("ok/k.pub")) && errmsg_has("chmod go-w"));
	chmod(path("ok/k.pub"), 0644);
	/* A safe target reached through a symlink that sits in the world-writable
	 * directory: the final path is safe, but anyone could swap the link. */
	CHECK_EQ_INT(symlink(ok, path("ww/lnk")), 0);
	CHECK_EQ_INT(mkdir(st2, 0755), 0);
	CHECK_EQ_INT(symlink(path("ww/lnk/k.pub"), path("s2/k.pub")), 0);
	CHECK_EQ_INT(hp_trust__load(st2, &keys, &n), -EPERM);
	CHECK(errmsg_has(ww));
	/* A dangling symlink: named. */
	unlink(path("s2/k.pub"));
	CHECK_EQ_INT(symlink(path("ok/none.pub"), path("s2/k.pub")), 0);
	CHECK(hp_trust__load(st2, &keys, &n) == -ENOENT && errmsg_has(path("s2/k.pub")));
	/* A link to itself: a loop, not a hang. */
	unlink(path("s2/k.pub"));
	CHECK_EQ_INT(symlink("k.pub", path("s2/k.pub")), 0);
	CHECK(hp_trust__load(st2, &keys, &n) == -ELOOP && errmsg_has(path("s2/k.pub")));
	/* The store itself a symlink: checked where it leads. */
	CHECK_EQ_INT(symlink(td, path("storelink")), 0);
	CHECK_EQ_INT(hp_trust__load(path("storelink"), &keys, &n), 0);
	free(keys);
	keys = NULL;
	CHECK_EQ_INT(symlink(td, path("ww/storelink")), 0);
	CHECK_EQ_INT(hp_trust__load(path("ww/storelink"), &keys, &n), -EPERM);
	CHECK(errmsg_has(ww));

	/* Owned by another user (only root can arrange that). */
	if (geteuid() == 0) {
		CHECK_EQ_INT(chown(p, 65534, 65534), 0);
		CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
		CHECK(errmsg_has("chown root") && errmsg_has(p));
		/* sticky is no excuse for a directory its owner can change */
		chmod(p, 01777);
		CHECK_EQ_INT(hp_trust__load(td, &keys, &n), -EPERM);
		CHECK(errmsg_has("chown root") && errmsg_has(p));
		chmod(p, 0755);
		CHECK_EQ_INT(chown(p, 0, 0), 0);
		/* a symlink in a sticky directory, owned by someone else: its
		 * owner may remove it and put another in its place */
		CHECK_EQ_INT(mkdir(path("sticky"), 01777), 0);
		chmod(path("sticky"), 01777);
		CHECK_EQ_INT(symlink(ok, path("sticky/lnk")), 0);
		CHECK_EQ_INT(lchown(path("sticky/lnk"), 65534, 65534), 0);
		unlink(path("s2/k.pub"));
		CHECK_EQ_INT(symlink(path("sticky/lnk/k.pub"), path("s2/k.pub")), 0);
		CHECK_EQ_INT(hp_trust__load(st2, &keys, &n), -EPERM);
		CHECK(errmsg_has("chown -h root") && errmsg_has(path("sticky/lnk")));
		CHECK_EQ_INT(lchown(path("sticky/lnk"), 0, 0), 0);
		CHECK_EQ_INT(hp_trust__load(st2, &keys, &n), 0);
		free(keys);
		keys = NULL;
	}
	free(a);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("FAIL: setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (sodium_init() < 0) {
		printf("FAIL: setup: sodium_init\n");
		return 1;
	}
	RUN(test_generate_sign_verify);
	RUN(test_tampering_refused);
	RUN(test_unknown_key);
	RUN(test_legacy_and_hand_made);
	RUN(test_encrypted_key);
	RUN(test_unencrypted_minisign_style);
	RUN(test_malformed);
	RUN(test_comments_checked);
	RUN(test_sign_file);
	RUN(test_trust_store);
	RUN(test_trust_store_paths);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
