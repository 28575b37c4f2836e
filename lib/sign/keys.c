/* minisign key files: generation, public keys, secret keys (plain or
 * scrypt-encrypted), and the small text helpers the signature code shares. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"
#include "sign/sign.h"

#define SIG_ALG "Ed"
#define KDF_SCRYPT "Sc"
#define KDF_NONE "\0\0"
#define CHK_ALG "B2"
#define COMMENT_PREFIX "untrusted comment: "
#define KEY_FILE_MAX 65536

/* The layouts of minisign.h, all byte arrays: no padding. */
struct keynum_sk {
	uint8_t keynum[HP_KEYID_BYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint8_t chk[crypto_generichash_BYTES];
};

struct seckey_file {
	uint8_t sig_alg[2];
	uint8_t kdf_alg[2];
	uint8_t chk_alg[2];
	uint8_t kdf_salt[crypto_pwhash_scryptsalsa208sha256_SALTBYTES];
	uint8_t kdf_opslimit_le[8];
	uint8_t kdf_memlimit_le[8];
	struct keynum_sk keynum_sk;
};

struct pubkey_file {
	uint8_t sig_alg[2];
	uint8_t keynum[HP_KEYID_BYTES];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
};

_Static_assert(sizeof(struct seckey_file) == 158, "minisign secret key layout");
_Static_assert(sizeof(struct pubkey_file) == 42, "minisign public key layout");

struct hp_seckey {
	uint8_t keyid[HP_KEYID_BYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

/* Largest scrypt parameters a secret key file may ask for: 4x minisign's. */
#define KDF_OPSLIMIT_MAX (HP_KDF_OPSLIMIT_DEFAULT * 4)
#define KDF_MEMLIMIT_MAX (HP_KDF_MEMLIMIT_DEFAULT * 4)

/* ---- shared helpers --------------------------------------------------- */

int hp_sign__init(void)
{
	if (sodium_init() < 0)
		return hp_err(-EIO, "libsodium failed to initialize");
	return 0;
}


int hp_sign__next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *s = *p, *nl;
	size_t n;

	if (s >= end)
		return 0;
	nl = memchr(s, '\n', (size_t)(end - s));
	n = nl ? (size_t)(nl - s) : (size_t)(end - s);
	*p = nl ? nl + 1 : end;
	*line = s;
	/* minisign's trim() ends the content at the first CR as well. */
	{
		const char *cr = memchr(s, '\r', n);

		if (cr)
			n = (size_t)(cr - s);
	}
	*len = n;
	return 1;
}

int hp_sign__b64_exact(const char *s, size_t n, void *out, size_t want)
{
	size_t got = 0;

	/* A correct encoding of want bytes has exactly this length; checking it
	 * first also keeps sodium from decoding into a too small buffer. */
	if (n != sodium_base64_encoded_len(want, sodium_base64_VARIANT_ORIGINAL) - 1)
		return -EINVAL;
	if (sodium_base642bin(out, want, s, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != want)
		return -EINVAL;
	return 0;
}

char *hp_sign__b64(const void *bin, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(len);

	if (s)
		sodium_bin2base64(s, len, bin, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static uint64_t le64_load(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void le64_store(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void hp_keyid_hex(const uint8_t keyid[HP_KEYID_BYTES], char out[2 * HP_KEYID_BYTES + 1])
{
	snprintf(out, 2 * HP_KEYID_BYTES + 1, "%016" PRIX64, le64_load(keyid));
}

/* The comment line and the base64 line of a key file.  what: "public key"
 * or "secret key", for the messages. */
static int key_lines(const char *text, size_t len, const char *name, const char *what,
		     const char **b64, size_t *b64_len)
{
	const char *p = text, *end = text + len, *line;
	size_t n;

	if (!hp_sign__next_line(&p, end, &line, &n))
		return hp_err(-EINVAL, "%s is empty, not a %s file", name, what);
	if (n < strlen(COMMENT_PREFIX) || memcmp(line, COMMENT_PREFIX, strlen(COMMENT_PREFIX)))
		return hp_err(-EINVAL, "%s is not a minisign %s file: its first line does not start with \"%s\"",
			      name, what, COMMENT_PREFIX);
	if (!hp_sign__next_line(&p, end, &line, &n) || n == 0)
		return hp_err(-EINVAL, "%s has no %s line after its comment (file truncated?)", name, what);
	*b64 = line;
	*b64_len = n;
	return 0;
}

/* ---- public keys ------------------------------------------------------ */

int hp_sign__pubkey_parse(const char *text, size_t len, const char *name, struct hp_pubkey *ret)
{
	struct pubkey_file f;
	const char *b64;
	size_t n;
	int r;

	r = key_lines(text, len, name, "public key", &b64, &n);
	if (r < 0)
		return r;
	if (hp_sign__b64_exact(b64, n, &f, sizeof(f)) < 0)
		return hp_err(-EINVAL, "%s: the key line is not the base64 of a %zu-byte minisign public key "
			      "(truncated or damaged?)", name, sizeof(f));
	if (memcmp(f.sig_alg, SIG_ALG, 2))
		return hp_err(-EINVAL, "%s: unsupported signature algorithm \"%c%c\" (only Ed25519, \"Ed\")",
			      name, isprint(f.sig_alg[0]) ? f.sig_alg[0] : '?',
			      isprint(f.sig_alg[1]) ? f.sig_alg[1] : '?');
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->keyid, f.keynum, sizeof(ret->keyid));
	memcpy(ret->pk, f.pk, sizeof(ret->pk));
	return 0;
}

int hp_pubkey__parse(const char *text, size_t len, struct hp_pubkey *ret)
{
	int r;

	hp_err_clear();
	r = hp_sign__init();
	if (r < 0)
		return r;
	return hp_sign__pubkey_parse(text, len, "public key", ret);
}

int hp_pubkey__load(const char *path, struct hp_pubkey *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	hp_err_clear();
	r = hp_sign__init();
	if (r < 0)
		return r;
	r = hp_read_file(path, KEY_FILE_MAX, -EINVAL, (void **)&text, &len);
	if (r < 0)
		return r;
	r = hp_sign__pubkey_parse(text, len, path, ret);
	if (r < 0)
		return r;
	snprintf(ret->origin, sizeof(ret->origin), "%s", path);
	return 0;
}

/* ---- secret keys ------------------------------------------------------ */

static void seckey_chk(const struct seckey_file *f, uint8_t chk[crypto_generichash_BYTES])
{
	crypto_generichash_state hs;

	crypto_generichash_init(&hs, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&hs, f->sig_alg, sizeof(f->sig_alg));
	crypto_generichash_update(&hs, f->keynum_sk.keynum, sizeof(f->keynum_sk.keynum));
	crypto_generichash_update(&hs, f->keynum_sk.sk, sizeof(f->keynum_sk.sk));
	crypto_generichash_final(&hs, chk, crypto_generichash_BYTES);
	sodium_memzero(&hs, sizeof(hs));
}

/* XORs keynum_sk with the scrypt stream of password. */
static int kdf_xor(struct seckey_file *f, const char *password, uint64_t opslimit, uint64_t memlimit)
{
	uint8_t *stream = sodium_malloc(sizeof(f->keynum_sk));
	uint8_t *k = (uint8_t *)&f->keynum_sk;

	if (!stream)
		return -ENOMEM;
	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(f->keynum_sk), password, strlen(password),
					       f->kdf_salt, (unsigned long long)opslimit,
					       (size_t)memlimit) != 0) {
		sodium_free(stream);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(f->keynum_sk); i++)
		k[i] ^= stream[i];
	sodium_free(stream);
	return 0;
}

static int seckey_parse(const char *text, size_t len, const char *name, const char *password,
			struct hp_seckey **ret)
{
	struct seckey_file *f;
	struct hp_seckey *sk;
	uint8_t chk[crypto_generichash_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk2[crypto_sign_SECRETKEYBYTES];
	const char *b64;
	size_t n;
	int r, zero_chk;

	r = key_lines(text, len, name, "secret key", &b64, &n);
	if (r < 0)
		return r;
	f = sodium_malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (hp_sign__b64_exact(b64, n, f, sizeof(*f)) < 0) {
		r = hp_err(-EINVAL, "%s: the key line is not the base64 of a %zu-byte minisign secret key "
			   "(truncated or damaged?)", name, sizeof(*f));
		goto out;
	}
	if (memcmp(f->sig_alg, SIG_ALG, 2)) {
		r = hp_err(-EINVAL, "%s: unsupported signature algorithm (only Ed25519, \"Ed\")", name);
		goto out;
	}
	if (memcmp(f->chk_alg, CHK_ALG, 2)) {
		r = hp_err(-EINVAL, "%s: unsupported checksum algorithm (only BLAKE2b, \"B2\")", name);
		goto out;
	}
	if (!memcmp(f->kdf_alg, KDF_SCRYPT, 2)) {
		uint64_t ops = le64_load(f->kdf_opslimit_le), mem = le64_load(f->kdf_memlimit_le);

		if (!password) {
			r = hp_err(-EACCES, "secret key %s is encrypted with a password, and none was given", name);
			goto out;
		}
		if (ops < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN || ops > KDF_OPSLIMIT_MAX ||
		    mem < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN || mem > KDF_MEMLIMIT_MAX) {
			r = hp_err(-EINVAL, "%s: scrypt parameters out of range (opslimit %" PRIu64
				   ", memlimit %" PRIu64 "): damaged key file?", name, ops, mem);
			goto out;
		}
		r = kdf_xor(f, password, ops, mem);
		if (r < 0) {
			r = hp_err(r, "%s: scrypt key derivation failed (it needs %" PRIu64
				   " MiB of memory)", name, mem >> 20);
			goto out;
		}
		seckey_chk(f, chk);
		if (sodium_memcmp(chk, f->keynum_sk.chk, sizeof(chk))) {
			r = hp_err(-EACCES, "wrong password for secret key %s (its checksum does not match "
				   "after decryption)", name);
			goto out;
		}
	} else if (!memcmp(f->kdf_alg, KDF_NONE, 2)) {
		/* minisign -W leaves the checksum zero; one that is set must match. */
		zero_chk = sodium_is_zero(f->keynum_sk.chk, sizeof(f->keynum_sk.chk));
		seckey_chk(f, chk);
		if (!zero_chk && sodium_memcmp(chk, f->keynum_sk.chk, sizeof(chk))) {
			r = hp_err(-EINVAL, "secret key %s is damaged: its checksum does not match", name);
			goto out;
		}
	} else {
		r = hp_err(-EINVAL, "%s: unsupported key derivation algorithm (only scrypt \"Sc\" or none)", name);
		goto out;
	}
	/* The secret key holds its public half after the seed: both must agree. */
	crypto_sign_seed_keypair(pk, sk2, f->keynum_sk.sk);
	if (sodium_memcmp(pk, f->keynum_sk.sk + 32, sizeof(pk))) {
		r = hp_err(-EINVAL, "secret key %s is damaged: its public half does not belong to it", name);
		goto out;
	}
	sk = sodium_malloc(sizeof(*sk));
	if (!sk) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(sk->keyid, f->keynum_sk.keynum, sizeof(sk->keyid));
	memcpy(sk->sk, f->keynum_sk.sk, sizeof(sk->sk));
	*ret = sk;
	r = 0;
out:
	sodium_memzero(sk2, sizeof(sk2));
	sodium_memzero(chk, sizeof(chk));
	sodium_free(f);
	return r;
}

int hp_seckey__load(const char *path, const char *password, struct hp_seckey **ret)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	hp_err_clear();
	*ret = NULL;
	r = hp_sign__init();
	if (r < 0)
		return r;
	r = hp_read_file(path, KEY_FILE_MAX, -EINVAL, (void **)&text, &len);
	if (r < 0)
		return r;
	r = seckey_parse(text, len, path, password, ret);
	sodium_memzero(text, len);
	free(text);
	return r;
}

void hp_seckey__free(struct hp_seckey *sk)
{
	if (sk)
		sodium_free(sk);	/* wipes it */
}

void hp_seckey__pubkey(const struct hp_seckey *sk, struct hp_pubkey *ret)
{
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->keyid, sk->keyid, sizeof(ret->keyid));
	memcpy(ret->pk, sk->sk + 32, sizeof(ret->pk));
}

const uint8_t *hp_sign__sk_bytes(const struct hp_seckey *sk, const uint8_t **keyid)
{
	*keyid = sk->keyid;
	return sk->sk;
}

/* ---- key generation --------------------------------------------------- */

/* Creates path (which must not exist) with mode and contents text. */
static int create_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int r;

	if (fd < 0) {
		if (errno == EEXIST)
			return hp_err(-EEXIST, "%s already exists; remove it first (a key is never overwritten)",
				      path);
		return hp_err(-errno, "cannot create %s: %s", path, strerror(errno));
	}
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = hp_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(path);
		return hp_err(r, "cannot write %s: %s", path, strerror(-r));
	}
	return 0;
}

static int check_comment(const char *c, const char *what)
{
	if (c && strpbrk(c, "\r\n"))
		return hp_err(-EINVAL, "the %s must be one line", what);
	if (c && strlen(c) > HP_UNTRUSTED_COMMENT_MAX - 64)
		return hp_err(-EINVAL, "the %s is longer than %d bytes", what, HP_UNTRUSTED_COMMENT_MAX - 64);
	return 0;
}

int hp_key__generate_kdf(const char *pub_path, const char *sec_path, const char *comment,
			 const char *password, uint64_t opslimit, uint64_t memlimit)
{
	struct seckey_file *f = NULL;
	struct pubkey_file pf;
	struct stat st;
	char keyid[2 * HP_KEYID_BYTES + 1];
	char *b64 = NULL, *text = NULL;
	int r;

	hp_err_clear();
	r = hp_sign__init();
	if (r < 0)
		return r;
	r = check_comment(comment, "key comment");
	if (r < 0)
		return r;
	if (password && (opslimit < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN ||
			 memlimit < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN ||
			 opslimit > KDF_OPSLIMIT_MAX || memlimit > KDF_MEMLIMIT_MAX))
		return hp_err(-EINVAL, "scrypt parameters out of range (opslimit %" PRIu64 ", memlimit %" PRIu64 ")",
			      opslimit, memlimit);
	if (!strcmp(pub_path, sec_path))
		return hp_err(-EINVAL, "the public and the secret key need two different files");
	if (lstat(pub_path, &st) == 0)
		return hp_err(-EEXIST, "%s already exists; remove it first (a key is never overwritten)", pub_path);
	if (lstat(sec_path, &st) == 0)
		return hp_err(-EEXIST, "%s already exists; remove it first (a key is never overwritten)", sec_path);

	f = sodium_malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	memcpy(f->sig_alg, SIG_ALG, 2);
	memcpy(f->chk_alg, CHK_ALG, 2);
	randombytes_buf(f->keynum_sk.keynum, sizeof(f->keynum_sk.keynum));
	crypto_sign_keypair(pf.pk, f->keynum_sk.sk);
	memcpy(pf.sig_alg, SIG_ALG, 2);
	memcpy(pf.keynum, f->keynum_sk.keynum, sizeof(pf.keynum));
	hp_keyid_hex(pf.keynum, keyid);
	seckey_chk(f, f->keynum_sk.chk);
	if (password) {
		memcpy(f->kdf_alg, KDF_SCRYPT, 2);
		randombytes_buf(f->kdf_salt, sizeof(f->kdf_salt));
		/* Like minisign: halve the cost while the memory is not there. */
		for (;;) {
			struct keynum_sk save = f->keynum_sk;

			r = kdf_xor(f, password, opslimit, memlimit);
			if (r == 0) {
				sodium_memzero(&save, sizeof(save));
				break;
			}
			f->keynum_sk = save;
			sodium_memzero(&save, sizeof(save));
			opslimit /= 2;
			memlimit /= 2;
			if (opslimit < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN ||
			    memlimit < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN) {
				r = hp_err(-ENOMEM, "scrypt key derivation failed: not enough memory");
				goto out;
			}
		}
		le64_store(f->kdf_opslimit_le, opslimit);
		le64_store(f->kdf_memlimit_le, memlimit);
	} else {
		memcpy(f->kdf_alg, KDF_NONE, 2);
	}

	b64 = hp_sign__b64(f, sizeof(*f));
	if (!b64 || asprintf(&text, COMMENT_PREFIX "hotpatch %s secret key %s%s%s\n%s\n",
			     password ? "encrypted" : "unencrypted", keyid, comment ? ": " : "",
			     comment ? comment : "", b64) < 0) {
		text = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = create_file(sec_path, 0600, text);
	if (r < 0)
		goto out;
	sodium_memzero(text, strlen(text));
	free(text);
	free(b64);
	text = NULL;
	b64 = hp_sign__b64(&pf, sizeof(pf));
	if (!b64 || asprintf(&text, COMMENT_PREFIX "minisign public key %s%s%s\n%s\n", keyid,
			     comment ? ": " : "", comment ? comment : "", b64) < 0) {
		text = NULL;
		unlink(sec_path);
		r = -ENOMEM;
		goto out;
	}
	r = create_file(pub_path, 0644, text);
	if (r < 0)
		unlink(sec_path);
out:
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	if (b64) {
		sodium_memzero(b64, strlen(b64));
		free(b64);
	}
	sodium_free(f);
	return r;
}

int hp_key__generate(const char *pub_path, const char *sec_path, const char *comment,
		     const char *password)
{
	return hp_key__generate_kdf(pub_path, sec_path, comment, password, HP_KDF_OPSLIMIT_DEFAULT,
				    HP_KDF_MEMLIMIT_DEFAULT);
}
