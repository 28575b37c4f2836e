/* minisign signatures: making them (prehashed, "ED") and checking them
 * ("ED" and the legacy "Ed"), in memory and for files. */
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include "common/common.h"
#include "sign/sign.h"

#define SIG_ALG_LEGACY "Ed"
#define SIG_ALG_HASHED "ED"
#define COMMENT_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define DEFAULT_UNTRUSTED "signature from hotpatch secret key"
#define SIG_FILE_MAX 65536
#define LEGACY_DATA_MAX (1ULL << 30)

struct sig_struct {
	uint8_t sig_alg[2];
	uint8_t keynum[HP_KEYID_BYTES];
	uint8_t sig[HP_SIGNATURE_BYTES];
};
_Static_assert(sizeof(struct sig_struct) == 74, "minisign signature layout");

struct sig_parsed {
	struct sig_struct s;
	int prehashed;
	uint8_t global[HP_SIGNATURE_BYTES];
	char tc[HP_TRUSTED_COMMENT_MAX + 1];
	size_t tc_len;
};

/* ---- parsing ---------------------------------------------------------- */

static int has_prefix(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !memcmp(line, prefix, k);
}

static int sig_parse(const char *text, size_t len, const char *name, struct sig_parsed *ret)
{
	const char *p = text, *end = text + len, *line;
	size_t n, k = strlen(TRUSTED_PREFIX);

	memset(ret, 0, sizeof(*ret));
	if (!hp_sign__next_line(&p, end, &line, &n))
		return hp_err(-EINVAL, "%s is empty", name);
	if (!has_prefix(line, n, COMMENT_PREFIX))
		return hp_err(-EINVAL, "%s is not a minisign signature: its first line does not start with \"%s\"",
			      name, COMMENT_PREFIX);
	if (!hp_sign__next_line(&p, end, &line, &n) || n == 0)
		return hp_err(-EINVAL, "%s ends after its first line: the signature line is missing", name);
	if (hp_sign__b64_exact(line, n, &ret->s, sizeof(ret->s)) < 0)
		return hp_err(-EINVAL, "%s: the signature line is not the base64 of a %zu-byte minisign "
			      "signature (truncated or damaged?)", name, sizeof(ret->s));
	if (!memcmp(ret->s.sig_alg, SIG_ALG_HASHED, 2))
		ret->prehashed = 1;
	else if (memcmp(ret->s.sig_alg, SIG_ALG_LEGACY, 2))
		return hp_err(-EINVAL, "%s: unsupported signature algorithm (only Ed25519: \"ED\" prehashed "
			      "or \"Ed\" legacy)", name);
	if (!hp_sign__next_line(&p, end, &line, &n))
		return hp_err(-EINVAL, "%s: the trusted comment line is missing", name);
	if (!has_prefix(line, n, TRUSTED_PREFIX))
		return hp_err(-EINVAL, "%s: the third line does not start with \"%s\"", name, TRUSTED_PREFIX);
	if (n - k > HP_TRUSTED_COMMENT_MAX)
		return hp_err(-EINVAL, "%s: the trusted comment is longer than %d bytes", name,
			      HP_TRUSTED_COMMENT_MAX);
	memcpy(ret->tc, line + k, n - k);
	ret->tc[n - k] = 0;
	ret->tc_len = n - k;
	if (memchr(ret->tc, 0, ret->tc_len))
		return hp_err(-EINVAL, "%s: the trusted comment contains a NUL byte", name);
	if (!hp_sign__next_line(&p, end, &line, &n) || n == 0)
		return hp_err(-EINVAL, "%s: the trusted comment's signature line is missing (file truncated?)",
			      name);
	if (hp_sign__b64_exact(line, n, ret->global, sizeof(ret->global)) < 0)
		return hp_err(-EINVAL, "%s: the trusted comment's signature line is not the base64 of a "
			      "%d-byte signature (truncated or damaged?)", name, HP_SIGNATURE_BYTES);
	return 0;
}

/* ---- checking --------------------------------------------------------- */

static int verify_parsed(const struct hp_pubkey *keys, size_t n, const struct sig_parsed *s,
			 const uint8_t *msg, size_t msg_len, struct hp_sig_info *ret)
{
	char keyid[2 * HP_KEYID_BYTES + 1];
	uint8_t *st_tc;
	size_t nmatch = 0;
	int data_ok = 0;

	hp_keyid_hex(s->s.keynum, keyid);
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		memcpy(ret->keyid, keyid, sizeof(keyid));
		ret->prehashed = s->prehashed;
	}
	st_tc = malloc(HP_SIGNATURE_BYTES + s->tc_len);
	if (!st_tc)
		return -ENOMEM;
	memcpy(st_tc, s->s.sig, HP_SIGNATURE_BYTES);
	memcpy(st_tc + HP_SIGNATURE_BYTES, s->tc, s->tc_len);
	for (size_t i = 0; i < n; i++) {
		if (memcmp(keys[i].keyid, s->s.keynum, HP_KEYID_BYTES))
			continue;
		nmatch++;
		if (crypto_sign_verify_detached(s->s.sig, msg, msg_len, keys[i].pk) != 0)
			continue;
		data_ok = 1;
		if (crypto_sign_verify_detached(s->global, st_tc, HP_SIGNATURE_BYTES + s->tc_len,
						keys[i].pk) != 0)
			continue;
		free(st_tc);
		if (ret) {
			ret->key_index = i;
			memcpy(ret->trusted_comment, s->tc, s->tc_len + 1);
		}
		return 0;
	}
	free(st_tc);
	if (!nmatch) {
		char list[256] = "";
		size_t off = 0;

		for (size_t i = 0; i < n && i < 4; i++) {
			char id[2 * HP_KEYID_BYTES + 1];

			hp_keyid_hex(keys[i].keyid, id);
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", id);
		}
		if (n > 4)
			snprintf(list + off, sizeof(list) - off, ", ...");
		return hp_err(-ENOKEY, "the signature was made with key %s, which is not among the %zu "
			      "trusted key%s (%s)", keyid, n, n == 1 ? "" : "s", n ? list : "none");
	}
	if (!data_ok)
		return hp_err(-EBADMSG, "the signature by key %s does not match the data: the file was "
			      "changed after it was signed, or the signature is forged", keyid);
	return hp_err(-EBADMSG, "the trusted comment of the signature by key %s was altered: its "
		      "signature does not verify", keyid);
}

int hp_verify(const struct hp_pubkey *keys, size_t n, const void *data, size_t len,
	      const char *sig_text, struct hp_sig_info *ret)
{
	struct sig_parsed *s;
	uint8_t hash[crypto_generichash_BYTES_MAX];
	int r;

	hp_err_clear();
	if (ret)
		memset(ret, 0, sizeof(*ret));
	r = hp_sign__init();
	if (r < 0)
		return r;
	if (!sig_text)
		return hp_err(-EINVAL, "no signature given");
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = sig_parse(sig_text, strlen(sig_text), "the signature", s);
	if (r == 0 && s->prehashed) {
		crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
		r = verify_parsed(keys, n, s, hash, sizeof(hash), ret);
	} else if (r == 0) {
		r = verify_parsed(keys, n, s, data, len, ret);
	}
	free(s);
	return r;
}

/* BLAKE2b-512 of an open file, read in pieces. */
static int hash_fd(int fd, const char *path, uint8_t out[crypto_generichash_BYTES_MAX])
{
	enum { CHUNK = 65536 };
	crypto_generichash_state hs;
	uint8_t *buf = malloc(CHUNK);

	if (!buf)
		return -ENOMEM;
	crypto_generichash_init(&hs, NULL, 0, crypto_generichash_BYTES_MAX);
	for (;;) {
		ssize_t r = read(fd, buf, CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			return hp_err(-e, "cannot read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		crypto_generichash_update(&hs, buf, (size_t)r);
	}
	free(buf);
	crypto_generichash_final(&hs, out, crypto_generichash_BYTES_MAX);
	return 0;
}

static int open_data(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hp_err(-errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return hp_err(-e, "cannot stat %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return hp_err(-EINVAL, "%s is not a regular file", path);
	}
	return fd;
}

int hp_verify_file(const struct hp_pubkey *keys, size_t n, const char *path, const char *sig_path,
		   struct hp_sig_info *ret)
{
	_cleanup_free_ char *own_sig_path = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	struct sig_parsed *s = NULL;
	struct stat st;
	size_t len;
	int r;

	hp_err_clear();
	if (ret)
		memset(ret, 0, sizeof(*ret));
	r = hp_sign__init();
	if (r < 0)
		return r;
	if (!sig_path) {
		if (asprintf(&own_sig_path, "%s.minisig", path) < 0)
			return -ENOMEM;
		sig_path = own_sig_path;
	}
	r = hp_read_file(sig_path, SIG_FILE_MAX, -EINVAL, (void **)&text, &len);
	if (r < 0)
		return r;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = sig_parse(text, len, sig_path, s);
	if (r < 0)
		goto out;
	fd = open_data(path, &st);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (s->prehashed) {
		uint8_t hash[crypto_generichash_BYTES_MAX];

		r = hash_fd(fd, path, hash);
		if (r == 0)
			r = verify_parsed(keys, n, s, hash, sizeof(hash), ret);
	} else {
		uint8_t *data;
		size_t got = 0;

		if ((uint64_t)st.st_size > LEGACY_DATA_MAX) {
			r = hp_err(-EFBIG, "%s is larger than 1 GiB: a legacy (not prehashed) signature "
				   "cannot be checked", path);
			goto out;
		}
		data = malloc((size_t)st.st_size + 1);
		if (!data) {
			r = -ENOMEM;
			goto out;
		}
		while (got <= (size_t)st.st_size) {
			ssize_t k = read(fd, data + got, (size_t)st.st_size + 1 - got);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				if (k < 0)
					r = hp_err(-errno, "cannot read %s: %s", path, strerror(errno));
				break;
			}
			got += (size_t)k;
		}
		if (r == 0 && got != (size_t)st.st_size)
			r = hp_err(-EIO, "%s changed size while being read", path);
		if (r == 0)
			r = verify_parsed(keys, n, s, data, got, ret);
		free(data);
	}
out:
	free(s);
	return r;
}

/* ---- signing ---------------------------------------------------------- */

static int check_comment(const char *c, size_t max, const char *what)
{
	if (strpbrk(c, "\r\n"))
		return hp_err(-EINVAL, "the %s must be one line (no line break)", what);
	if (strlen(c) > max)
		return hp_err(-EINVAL, "the %s is %zu bytes, longer than %zu", what, strlen(c), max);
	return 0;
}

/* Signs msg (the BLAKE2b-512 hash of the data) as a prehashed signature. */
static int sign_hash(const struct hp_seckey *sk, const uint8_t *hash, const char *tc,
		     const char *uc, char **ret)
{
	struct sig_struct s;
	uint8_t global[HP_SIGNATURE_BYTES];
	struct hp_pubkey pk;
	const uint8_t *keyid, *skb = hp_sign__sk_bytes(sk, &keyid);
	uint8_t *st_tc;
	size_t tc_len = strlen(tc);
	char *b1, *b2;
	int r;

	r = check_comment(tc, HP_TRUSTED_COMMENT_MAX, "trusted comment");
	if (r == 0)
		r = check_comment(uc, HP_UNTRUSTED_COMMENT_MAX, "untrusted comment");
	if (r < 0)
		return r;
	memcpy(s.sig_alg, SIG_ALG_HASHED, 2);
	memcpy(s.keynum, keyid, HP_KEYID_BYTES);
	crypto_sign_detached(s.sig, NULL, hash, crypto_generichash_BYTES_MAX, skb);
	st_tc = malloc(HP_SIGNATURE_BYTES + tc_len);
	if (!st_tc)
		return -ENOMEM;
	memcpy(st_tc, s.sig, HP_SIGNATURE_BYTES);
	memcpy(st_tc + HP_SIGNATURE_BYTES, tc, tc_len);
	crypto_sign_detached(global, NULL, st_tc, HP_SIGNATURE_BYTES + tc_len, skb);
	/* Like minisign: check the result before handing it out. */
	hp_seckey__pubkey(sk, &pk);
	if (crypto_sign_verify_detached(s.sig, hash, crypto_generichash_BYTES_MAX, pk.pk) != 0 ||
	    crypto_sign_verify_detached(global, st_tc, HP_SIGNATURE_BYTES + tc_len, pk.pk) != 0) {
		free(st_tc);
		return hp_err(-EIO, "the new signature does not verify with the key's own public half");
	}
	free(st_tc);
	b1 = hp_sign__b64(&s, sizeof(s));
	b2 = hp_sign__b64(global, sizeof(global));
	r = 0;
	if (!b1 || !b2 || asprintf(ret, COMMENT_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n", uc, b1, tc, b2) < 0) {
		*ret = NULL;
		r = -ENOMEM;
	}
	free(b1);
	free(b2);
	return r;
}

int hp_sign(const struct hp_seckey *sk, const void *data, size_t len, const char *trusted_comment,
	    const char *untrusted_comment, char **ret_sig_text)
{
	uint8_t hash[crypto_generichash_BYTES_MAX];
	char deftc[64];
	int r;

	hp_err_clear();
	*ret_sig_text = NULL;
	r = hp_sign__init();
	if (r < 0)
		return r;
	if (!trusted_comment) {
		snprintf(deftc, sizeof(deftc), "timestamp:%lu", (unsigned long)time(NULL));
		trusted_comment = deftc;
	}
	crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
	return sign_hash(sk, hash, trusted_comment,
			 untrusted_comment ? untrusted_comment : DEFAULT_UNTRUSTED, ret_sig_text);
}

/* Writes text to path atomically: a temporary file beside it, renamed. */
static int write_atomic(const char *path, const char *text)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return hp_err(-errno, "cannot create a temporary file beside %s: %s", path, strerror(errno));
	if (fchmod(fd, 0644) < 0 || hp_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return hp_err(r, "cannot write %s: %s", path, strerror(-r));
	}
	/* Make the rename itself durable. */
	dir = strdup(path);
	if (dir) {
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

int hp_sign_file(const struct hp_seckey *sk, const char *path, const char *trusted_comment)
{
	_cleanup_free_ char *sig_path = NULL, *deftc = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	uint8_t hash[crypto_generichash_BYTES_MAX];
	struct stat st;
	int r;

	hp_err_clear();
	r = hp_sign__init();
	if (r < 0)
		return r;
	fd = open_data(path, &st);
	if (fd < 0)
		return fd;
	r = hash_fd(fd, path, hash);
	if (r < 0)
		return r;
	if (!trusted_comment) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		if (asprintf(&deftc, "timestamp:%lu\tfile:%s\thashed", (unsigned long)time(NULL), base) < 0) {
			deftc = NULL;
			return -ENOMEM;
		}
		trusted_comment = deftc;
	}
	r = sign_hash(sk, hash, trusted_comment, DEFAULT_UNTRUSTED, &text);
	if (r < 0)
		return r;
	if (asprintf(&sig_path, "%s.minisig", path) < 0) {
		sig_path = NULL;
		return -ENOMEM;
	}
	return write_atomic(sig_path, text);
}
