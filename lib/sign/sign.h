/* Signatures of patch files: minisign's key and signature formats, Ed25519
 * through libsodium, and the trust store of public keys.
 *
 * Files are byte-compatible with minisign (https://jedisct1.github.io/minisign):
 *
 *   public key  "untrusted comment: TEXT\n"
 *               base64("Ed" || key id[8] || Ed25519 public key[32]) "\n"
 *   secret key  "untrusted comment: TEXT\n"
 *               base64("Ed" || kdf "Sc" or "\0\0" || "B2" || salt[32] ||
 *                      opslimit le64 || memlimit le64 ||
 *                      key id[8] || Ed25519 secret key[64] || checksum[32]) "\n"
 *               The last 104 bytes are XORed with a scrypt stream of the
 *               password when the kdf is "Sc"; checksum = BLAKE2b-256("Ed" ||
 *               key id || secret key).  "\0\0" is an unencrypted key (minisign
 *               -G -W, which leaves salt, limits and checksum zero).
 *   signature   "untrusted comment: TEXT\n"
 *               base64(alg[2] || key id[8] || signature[64]) "\n"
 *               "trusted comment: TEXT\n"
 *               base64(global signature[64]) "\n"
 *               alg "Ed" (legacy): the signature is over the raw data; "ED"
 *               (prehashed): over BLAKE2b-512 of the data.  The global
 *               signature is over signature[64] || trusted comment text, so
 *               the trusted comment cannot be changed without the secret key.
 *
 * Conventions as everywhere in hotpatch: 0 or a negative errno, with a
 * detail for hp_errmsg().  Errors particular to this part:
 *   -EINVAL   a key or signature file is malformed (what is wrong is in the detail)
 *   -EBADMSG  a signature does not verify (data changed or signature forged)
 *   -ENOKEY   the signature's key id is not among the keys given / trusted
 *   -EACCES   wrong password for an encrypted secret key (or none given)
 *   -EEXIST   key generation would overwrite a file
 *   -EPERM    trust store unsafe (writable by others, wrong owner)
 */
#ifndef HP_SIGN_H
#define HP_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define HP_KEYID_BYTES 8
#define HP_PUBKEY_BYTES 32
#define HP_SIGNATURE_BYTES 64
/* Longest trusted comment a signature may carry, as minisign reads it
 * (a "trusted comment: " line within its 8192-byte buffer). */
#define HP_TRUSTED_COMMENT_MAX 8173
/* Longest untrusted comment that minisign can still read back. */
#define HP_UNTRUSTED_COMMENT_MAX 1000

/* minisign's scrypt parameters for a new encrypted secret key
 * (crypto_pwhash_scryptsalsa208sha256_*_SENSITIVE: 1 GiB, 2^25 operations). */
#define HP_KDF_OPSLIMIT_DEFAULT 33554432ULL
#define HP_KDF_MEMLIMIT_DEFAULT 1073741824ULL

struct hp_pubkey {
	uint8_t keyid[HP_KEYID_BYTES];	/* as stored in the files */
	uint8_t pk[HP_PUBKEY_BYTES];	/* Ed25519 public key */
	char origin[256];		/* file it was loaded from, "" when parsed from memory */
};

/* A decrypted secret key; held in sodium_malloc()ed memory (guard pages,
 * locked when the system allows) and wiped by hp_seckey__free(). */
struct hp_seckey;

/* What a verified signature says. */
struct hp_sig_info {
	char keyid[2 * HP_KEYID_BYTES + 1];	/* hex, as minisign prints it */
	int prehashed;				/* 1: "ED", 0: legacy "Ed" */
	size_t key_index;			/* which of the keys verified it */
	char trusted_comment[HP_TRUSTED_COMMENT_MAX + 1];
};

/* Key id as minisign prints it ("minisign public key 2B4B5A689C3344EC"):
 * the 8 bytes read as a little-endian number, 16 upper-case hex digits. */
void hp_keyid_hex(const uint8_t keyid[HP_KEYID_BYTES], char out[2 * HP_KEYID_BYTES + 1]);

/* ---- keys ------------------------------------------------------------- */

/* Creates a new key pair: pub_path (mode 0644) and sec_path (mode 0600).
 * Refuses (-EEXIST) when either file exists; leaves no file behind on
 * failure.  comment (NULL: none) goes into the untrusted comment lines.
 * password NULL: the secret key is stored unencrypted, as `minisign -G -W`
 * does; otherwise encrypted with scrypt (crypto_pwhash_scryptsalsa208sha256)
 * at minisign's parameters, halved like minisign does while memory is short. */
int hp_key__generate(const char *pub_path, const char *sec_path, const char *comment,
		     const char *password);
/* The same with explicit scrypt parameters (tests and small machines; the
 * values are stored in the file, so every reader uses them).  Both are
 * checked against libsodium's minimums. */
int hp_key__generate_kdf(const char *pub_path, const char *sec_path, const char *comment,
			 const char *password, uint64_t opslimit, uint64_t memlimit);

/* Parses the text of a public key file (len bytes, need not be
 * NUL-terminated): the untrusted comment line and the base64 line. */
int hp_pubkey__parse(const char *text, size_t len, struct hp_pubkey *ret);
/* Reads and parses a public key file; ret->origin gets path. */
int hp_pubkey__load(const char *path, struct hp_pubkey *ret);

/* Reads a secret key file and decrypts it with password when it is
 * encrypted ("Sc"); password is ignored for an unencrypted key.  A wrong
 * password shows as a checksum mismatch: -EACCES.  An encrypted key with
 * password NULL: -EACCES.  Free the key with hp_seckey__free(). */
int hp_seckey__load(const char *path, const char *password, struct hp_seckey **ret);
void hp_seckey__free(struct hp_seckey *sk);
/* The public key of a secret key (origin ""). */
void hp_seckey__pubkey(const struct hp_seckey *sk, struct hp_pubkey *ret);

/* ---- signatures ------------------------------------------------------- */

/* Signs data (prehashed, "ED") and sets *ret_sig_text to the text of a
 * .minisig file (malloc()ed; the caller frees it).  trusted_comment NULL:
 * "timestamp:T"; untrusted_comment NULL: "signature from hotpatch secret
 * key".  Comments are one line each (no CR or LF), at most
 * HP_TRUSTED_COMMENT_MAX / HP_UNTRUSTED_COMMENT_MAX bytes: -EINVAL otherwise. */
int hp_sign(const struct hp_seckey *sk, const void *data, size_t len,
	    const char *trusted_comment, const char *untrusted_comment, char **ret_sig_text);
/* Signs the file at path (prehashed, read in pieces) and writes PATH.minisig
 * atomically (a temporary file in the same directory renamed over it, mode
 * 0644).  trusted_comment NULL: minisign's "timestamp:T\tfile:NAME\thashed". */
int hp_sign_file(const struct hp_seckey *sk, const char *path, const char *trusted_comment);

/* Verifies sig_text (the text of a .minisig file, NUL-terminated) over
 * data.  Returns 0 only when a key among keys[0..n) has the signature's key
 * id and both the signature over the data and the global signature over the
 * trusted comment verify with it.  Accepts prehashed ("ED") and legacy
 * ("Ed") signatures.  -EINVAL: sig_text malformed; -ENOKEY: no key with that
 * id; -EBADMSG: the data or the trusted comment does not match.
 * ret (may be NULL) is filled on success; after -ENOKEY or -EBADMSG only its
 * keyid and prehashed are set (the trusted comment is cleared: it is not
 * trusted then). */
int hp_verify(const struct hp_pubkey *keys, size_t n, const void *data, size_t len,
	      const char *sig_text, struct hp_sig_info *ret);
/* hp_verify for the file at path with the signature file sig_path (NULL:
 * PATH.minisig); prehashed signatures are checked without reading the whole
 * file into memory. */
int hp_verify_file(const struct hp_pubkey *keys, size_t n, const char *path,
		   const char *sig_path, struct hp_sig_info *ret);

/* ---- trust store ------------------------------------------------------ */

/* Loads every *.pub file of dir (not hidden ones) into a malloc()ed array
 * (*ret_keys, free() it), in name order.  Like sshd's StrictModes, refuses
 * (-EPERM, the detail names the path and the chmod/chown that fixes it)
 * when dir or a key file is writable by group or others, or owned by
 * neither root nor the caller's effective user; and so for every directory
 * on the way to them, up to / (a sticky one owned by root or us, like
 * /tmp, is fine there).  A key that is a symlink is checked where it
 * leads, the target and all its parents, and the directories of every
 * link followed.  A malformed key file fails the whole load (-EINVAL,
 * naming it).  No key at all: -ENOKEY ("no trusted keys in DIR"). */
int hp_trust__load(const char *dir, struct hp_pubkey **ret_keys, size_t *ret_n);

/* ---- internal, shared by the files of lib/sign ---------------------- */

/* hp_pubkey__parse naming the text "name" in messages (no hp_err_clear()). */
int hp_sign__pubkey_parse(const char *text, size_t len, const char *name, struct hp_pubkey *ret);
/* Next line of [*p, end): sets *line and *len (without the end of line; like
 * minisign, a CR ends the line's content too) and advances *p.  Returns 0
 * at the end of the text. */
int hp_sign__next_line(const char **p, const char *end, const char **line, size_t *len);
/* Decodes base64 (the original alphabet, with padding) of exactly want bytes. */
int hp_sign__b64_exact(const char *s, size_t n, void *out, size_t want);
/* base64 of n bytes, malloc()ed, NUL-terminated. */
char *hp_sign__b64(const void *bin, size_t n);
/* The Ed25519 secret key (64 bytes) of sk, and its key id in *keyid. */
const uint8_t *hp_sign__sk_bytes(const struct hp_seckey *sk, const uint8_t **keyid);
/* sodium_init() once; -EIO when libsodium cannot start. */
int hp_sign__init(void);

#endif
