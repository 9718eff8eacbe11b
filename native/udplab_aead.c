/*
 * ChaCha20-Poly1305 for udplab's sealed datagrams (docs/wire-format.md, docs/native.md), without a
 * JS object per datagram: one N-API call seals or opens a whole datagram in place.
 *
 * The cipher is not ours: it is the OpenSSL inside the running Node (the code node:crypto uses),
 * found at load time with dlsym(). Nothing here links against OpenSSL, needs its headers or pins
 * its version; when a symbol is missing (a Node built without OpenSSL), the functions are simply
 * not exported and udplab keeps using node:crypto. The declarations below are OpenSSL's stable
 * public API (1.1 and 3.x): opaque pointers and two control codes.
 *
 * A key handle holds two cipher contexts (seal, open) initialised with the key once; each datagram
 * only sets its nonce. The handle is not shared between threads (one per JS environment).
 *
 * The fast path. On short datagrams most of an EVP call is OpenSSL's provider layer, not the
 * cipher (~415 ns to seal 59 bytes here, ~205 ns for the same work below). When the running Node
 * exports the two primitives under EVP's ChaCha20-Poly1305 — ChaCha20_ctr32() and the Poly1305_*
 * functions, as the official Node builds (OpenSSL linked in) do — the datagram is sealed and
 * opened with them directly, as RFC 8439 composes them: one ChaCha20 call from block 0 gives the
 * Poly1305 key and the text, one Poly1305 pass covers AAD ‖ pad ‖ ciphertext ‖ pad ‖ lengths.
 * These functions are OpenSSL's internals (stable since 1.1.0, but not its public API), so they
 * are used only with an OpenSSL of the 1.1 or 3 series and after a self-test, run when the first
 * key is made (a process that never seals never calls them): the RFC 8439 §2.8.2 vector and EVP's
 * own output for a range of lengths must come out byte for byte, or every call goes through EVP
 * (as it does when UDPLAB_AEAD_EVP_ONLY is set to anything but empty or 0, and for texts over
 * SCRATCH_TEXT bytes).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8 /* type tags: Node ≥ 12.19 */
#include <dlfcn.h>
#include <pthread.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "udplab_aead.h"

typedef struct evp_cipher_ctx EVP_CIPHER_CTX;
typedef struct evp_cipher EVP_CIPHER;
#define CTRL_AEAD_GET_TAG 0x10
#define CTRL_AEAD_SET_TAG 0x11

static struct {
  EVP_CIPHER_CTX* (*ctx_new)(void);
  void (*ctx_free)(EVP_CIPHER_CTX*);
  const EVP_CIPHER* (*chacha20_poly1305)(void);
  int (*init)(EVP_CIPHER_CTX*, const EVP_CIPHER*, void*, const unsigned char*, const unsigned char*,
              int);
  int (*update)(EVP_CIPHER_CTX*, unsigned char*, int*, const unsigned char*, int);
  int (*final)(EVP_CIPHER_CTX*, unsigned char*, int*);
  int (*ctrl)(EVP_CIPHER_CTX*, int, int, void*);
} ossl;

/* The primitives under EVP's ChaCha20-Poly1305, when exported (the fast path above). */
static struct {
  void (*chacha)(unsigned char* out, const unsigned char* in, size_t len, const unsigned int key[8],
                 const unsigned int counter[4]);
  size_t (*poly_size)(void);
  void (*poly_init)(void* ctx, const unsigned char key[32]);
  void (*poly_update)(void* ctx, const unsigned char* in, size_t len);
  void (*poly_final)(void* ctx, unsigned char tag[16]);
  int (*memcmp)(const void* a, const void* b, size_t len); /* CRYPTO_memcmp: constant time */
  unsigned long (*version)(void);                          /* OpenSSL_version_num */
  int usable; /* resolved, a known OpenSSL, and passed the self-test */
} fast;

#define HEADER 3   /* magic, version, type: the associated data */
#define NONCE 12
#define TAG 16
#define KEY 32
#define OVERHEAD (HEADER + NONCE + TAG)

/* Marks key handles, so that no other external can be taken for one. */
static const napi_type_tag KEY_TAG = {0x7564706c61626165ULL, 0x6164206b65792031ULL};

/*
 * The fast path's scratch: block 0 ‖ text, then the Poly1305 input (≤ 16 ‖ text ‖ 15 ‖ 16). Texts
 * up to SCRATCH_TEXT take the fast path (a datagram the size of an Ethernet frame and more); longer
 * ones go through EVP, where the fixed cost the fast path saves no longer counts (above ~8 KB the
 * two are level), and a key's scratch stays ~4 KB.
 */
#define SCRATCH_TEXT 2048
#define SCRATCH (64 + SCRATCH_TEXT + 16 + SCRATCH_TEXT + 15 + 16)
_Static_assert(HEADER <= 16, "the scratch holds associated data of at most 16 bytes");

struct aead_key_s {
  EVP_CIPHER_CTX* seal;
  EVP_CIPHER_CTX* open;
  unsigned int words[8]; /* the key as ChaCha20's little-endian words (fast path) */
  void* poly;            /* a Poly1305 context (fast path), else NULL */
  uint8_t* scratch;      /* SCRATCH bytes (fast path) */
  int64_t accounted;     /* bytes reported to V8 (napi_adjust_external_memory) */
};

static pthread_once_t resolved = PTHREAD_ONCE_INIT;
static pthread_once_t fast_resolved = PTHREAD_ONCE_INIT;

static int fast_selftest(void);

/* Finds the functions once per process (worker threads load the addon again). */
static void resolve_once(void) {
  void* self = RTLD_DEFAULT;
  *(void**)&ossl.ctx_new = dlsym(self, "EVP_CIPHER_CTX_new");
  *(void**)&ossl.ctx_free = dlsym(self, "EVP_CIPHER_CTX_free");
  *(void**)&ossl.chacha20_poly1305 = dlsym(self, "EVP_chacha20_poly1305");
  *(void**)&ossl.init = dlsym(self, "EVP_CipherInit_ex");
  *(void**)&ossl.update = dlsym(self, "EVP_CipherUpdate");
  *(void**)&ossl.final = dlsym(self, "EVP_CipherFinal_ex");
  *(void**)&ossl.ctrl = dlsym(self, "EVP_CIPHER_CTX_ctrl");
}

/*
 * Decides on the fast path, once per process, when the first key is made (so that a process that
 * never seals, such as a plain server, never calls OpenSSL's internals at all): the symbols, an
 * OpenSSL of a series whose internals are known (1.1.x, 3.x), and the self-test.
 */
static void fast_once(void) {
  void* self = RTLD_DEFAULT;
  *(void**)&fast.chacha = dlsym(self, "ChaCha20_ctr32");
  *(void**)&fast.poly_size = dlsym(self, "Poly1305_ctx_size");
  *(void**)&fast.poly_init = dlsym(self, "Poly1305_Init");
  *(void**)&fast.poly_update = dlsym(self, "Poly1305_Update");
  *(void**)&fast.poly_final = dlsym(self, "Poly1305_Final");
  *(void**)&fast.memcmp = dlsym(self, "CRYPTO_memcmp");
  *(void**)&fast.version = dlsym(self, "OpenSSL_version_num");
  const char* evp_only = getenv("UDPLAB_AEAD_EVP_ONLY"); /* unset, empty or 0: the fast path */
  if (evp_only != NULL && strcmp(evp_only, "") != 0 && strcmp(evp_only, "0") != 0) return;
  if (!fast.chacha || !fast.poly_size || !fast.poly_init || !fast.poly_update ||
      !fast.poly_final || !fast.memcmp || !fast.version)
    return;
  unsigned long v = fast.version();
  if (v >> 28 != 3 && v >> 20 != 0x101) return; /* 3.x: 0x3MM…; 1.1.x: 0x101… */
  if (fast.poly_size() == 0 || fast.poly_size() > 4096) return;
  fast.usable = fast_selftest();
}

/* Whether keys made now take the fast path (deciding it on the first call). */
static int fast_ready(void) {
  pthread_once(&fast_resolved, fast_once);
  return fast.usable;
}

static int resolve(void) {
  pthread_once(&resolved, resolve_once);
  return ossl.ctx_new && ossl.ctx_free && ossl.chacha20_poly1305 && ossl.init && ossl.update &&
         ossl.final && ossl.ctrl;
}

static void free_key(aead_key_t* k) {
  if (k->seal) ossl.ctx_free(k->seal); /* EVP_CIPHER_CTX_free wipes the key schedule */
  if (k->open) ossl.ctx_free(k->open);
  explicit_bzero(k->words, sizeof k->words); /* ours to wipe: the key, the last keystream */
  if (k->scratch) explicit_bzero(k->scratch, SCRATCH);
  free(k->poly); /* Poly1305_Final wipes its context */
  free(k->scratch);
  free(k);
}

static uint32_t le32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Block 0's Poly1305 key and the text (in place at s + 64) from one ChaCha20 call. */
static void fast_stream(const aead_key_t* k, const uint8_t* nonce, uint8_t* s, size_t len) {
  unsigned int counter[4] = {0, le32(nonce), le32(nonce + 4), le32(nonce + 8)};
  memset(s, 0, 64);
  fast.chacha(s, s, 64 + len, k->words, counter);
}

/* The tag of aad ‖ text (RFC 8439 §2.8), with p as room for 16 + len + 32 bytes of its input. */
static void fast_tag(const aead_key_t* k, const uint8_t* poly_key, const uint8_t* aad,
                     size_t aad_len, const uint8_t* text, size_t len, uint8_t* p, uint8_t* tag) {
  size_t pos = 0, aad_padded = (aad_len + 15) & ~(size_t)15, padded = (len + 15) & ~(size_t)15;
  fast.poly_init(k->poly, poly_key);
  memset(p, 0, aad_padded);
  memcpy(p, aad, aad_len);
  pos = aad_padded;
  memcpy(p + pos, text, len);
  memset(p + pos + len, 0, padded - len);
  pos += padded;
  put_le64(p + pos, aad_len);
  put_le64(p + pos + 8, len);
  fast.poly_update(k->poly, p, pos + 16);
  fast.poly_final(k->poly, tag);
}

/* Seals text (len bytes, in place) under nonce with aad (≤ 16 bytes); the tag goes to tag. */
static void fast_seal(aead_key_t* k, const uint8_t* nonce, const uint8_t* aad, size_t aad_len,
                      uint8_t* text, size_t len, uint8_t* tag) {
  uint8_t* s = k->scratch;
  memcpy(s + 64, text, len);
  fast_stream(k, nonce, s, len);
  memcpy(text, s + 64, len);
  fast_tag(k, s, aad, aad_len, text, len, s + 64 + len, tag);
}

/* Opens text (len bytes) into out when tag verifies; out is not written otherwise. */
static int fast_open(aead_key_t* k, const uint8_t* nonce, const uint8_t* aad, size_t aad_len,
                     const uint8_t* text, size_t len, const uint8_t* tag, uint8_t* out) {
  uint8_t *s = k->scratch, mine[16];
  memcpy(s + 64, text, len);
  fast_stream(k, nonce, s, len);
  fast_tag(k, s, aad, aad_len, text, len, s + 64 + len, mine);
  if (fast.memcmp(mine, tag, TAG) != 0) return 0;
  if (len > 0) memcpy(out, s + 64, len); /* out is NULL for an empty text */
  return 1;
}

/* Gives k what the fast path needs; 0 (EVP only) when memory is short. */
static int fast_setup(aead_key_t* k, const uint8_t* secret) {
  k->poly = malloc(fast.poly_size()); /* malloc's alignment is more than its 8 bytes need */
  k->scratch = malloc(SCRATCH);
  if (k->poly == NULL || k->scratch == NULL) {
    free(k->poly);
    free(k->scratch);
    k->poly = NULL;
    k->scratch = NULL;
    return 0;
  }
  for (int i = 0; i < 8; i++) k->words[i] = le32(secret + 4 * i);
  return 1;
}

static void finalize_key(napi_env env, void* data, void* hint) {
  aead_key_t* k = data;
  int64_t ignored;
  napi_adjust_external_memory(env, -k->accounted, &ignored);
  free_key(k);
}

/* The bytes of a Uint8Array (or Buffer) argument. */
static int bytes_of(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void* p = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &offset) != napi_ok ||
      type != napi_uint8_array)
    return 0;
  *data = p;
  return 1;
}

static napi_value boolean(napi_env env, int b) {
  napi_value v = NULL;
  napi_get_boolean(env, b != 0, &v);
  return v;
}

/* A key handle for secret (32 bytes), its EVP contexts set up (and the fast path's state when
 * with_fast); NULL when OpenSSL fails. */
static aead_key_t* new_key(const uint8_t* secret, int with_fast) {
  aead_key_t* k = calloc(1, sizeof *k);
  if (k == NULL || (k->seal = ossl.ctx_new()) == NULL || (k->open = ossl.ctx_new()) == NULL ||
      ossl.init(k->seal, ossl.chacha20_poly1305(), NULL, secret, NULL, 1) != 1 ||
      ossl.init(k->open, ossl.chacha20_poly1305(), NULL, secret, NULL, 0) != 1) {
    if (k) free_key(k);
    return NULL;
  }
  if (with_fast) fast_setup(k, secret);
  return k;
}

/* Seals datagram d (len ≥ OVERHEAD bytes, the layout of js_seal) through EVP; 1 when OpenSSL did. */
static int evp_seal(aead_key_t* k, uint8_t* d, size_t len) {
  int n = 0, plain = (int)(len - OVERHEAD);
  uint8_t* text = d + HEADER + NONCE;
  return ossl.init(k->seal, NULL, NULL, NULL, d + HEADER, 1) == 1 &&
         ossl.update(k->seal, NULL, &n, d, HEADER) == 1 &&
         (plain == 0 || ossl.update(k->seal, text, &n, text, plain) == 1) &&
         ossl.final(k->seal, text + plain, &n) == 1 &&
         ossl.ctrl(k->seal, CTRL_AEAD_GET_TAG, TAG, text + plain) == 1;
}

/* Opens datagram d through EVP into out (len - OVERHEAD bytes); 1 when the tag verifies. */
static int evp_open(aead_key_t* k, const uint8_t* d, size_t len, uint8_t* out) {
  int n = 0, cipher = (int)(len - OVERHEAD);
  uint8_t tag[TAG];
  memcpy(tag, d + len - TAG, TAG); /* set_tag takes a non-const pointer */
  return ossl.init(k->open, NULL, NULL, NULL, d + HEADER, 0) == 1 &&
         ossl.ctrl(k->open, CTRL_AEAD_SET_TAG, TAG, tag) == 1 &&
         ossl.update(k->open, NULL, &n, d, HEADER) == 1 &&
         (cipher == 0 || ossl.update(k->open, out, &n, d + HEADER + NONCE, cipher) == 1) &&
         ossl.final(k->open, out + cipher, &n) == 1;
}

static int fast_for(const aead_key_t* k, size_t len) {
  return k->scratch != NULL && len - OVERHEAD <= SCRATCH_TEXT;
}

/* Seals datagram d: the fast path when this key has it, else EVP. */
static int seal(aead_key_t* k, uint8_t* d, size_t len) {
  if (!fast_for(k, len)) return evp_seal(k, d, len);
  fast_seal(k, d + HEADER, d, HEADER, d + HEADER + NONCE, len - OVERHEAD, d + len - TAG);
  return 1;
}

/* Opens datagram d into out: the fast path when this key has it, else EVP. */
static int open_into(aead_key_t* k, const uint8_t* d, size_t len, uint8_t* out) {
  if (!fast_for(k, len)) return evp_open(k, d, len, out);
  return fast_open(k, d + HEADER, d, HEADER, d + HEADER + NONCE, len - OVERHEAD, d + len - TAG,
                   out);
}

/*
 * Whether the fast path computes what EVP does, run once with the symbols found: RFC 8439's
 * AEAD vector (§2.8.2: its 12 bytes of AAD, 114 of text), then datagrams of many lengths sealed
 * both ways and opened both ways, and a forged tag refused without writing the output.
 */
static int fast_selftest(void) {
  static const uint8_t rfc_nonce[12] = {7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
  static const uint8_t rfc_aad[12] = {0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
                                      0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
  static const uint8_t rfc_tag[16] = {0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
                                      0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91};
  static const char rfc_text[] =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  static const size_t lengths[] = {0,   1,   15,  16,   17,   31,   47,   59,  63,
                                   64,  65,  127, 128,  129,  1000, 1472, 2047, SCRATCH_TEXT};
  enum { MAX = SCRATCH_TEXT + OVERHEAD };
  uint8_t secret[KEY], text[sizeof rfc_text - 1], tag[TAG], a[MAX], b[MAX], out[MAX], back[MAX];
  int ok = 1;
  for (int i = 0; i < KEY; i++) secret[i] = (uint8_t)(0x80 + i);
  aead_key_t* k = new_key(secret, 1);
  if (k == NULL || k->scratch == NULL) ok = 0;
  if (ok) {
    memcpy(text, rfc_text, sizeof text);
    fast_seal(k, rfc_nonce, rfc_aad, sizeof rfc_aad, text, sizeof text, tag);
    ok = memcmp(tag, rfc_tag, TAG) == 0 &&
         fast_open(k, rfc_nonce, rfc_aad, sizeof rfc_aad, text, sizeof text, tag, out) &&
         memcmp(out, rfc_text, sizeof text) == 0;
  }
  for (size_t i = 0; ok && i < sizeof lengths / sizeof lengths[0]; i++) {
    size_t len = lengths[i] + OVERHEAD;
    for (size_t j = 0; j < len; j++) a[j] = b[j] = (uint8_t)(j * 31 + i);
    ok = evp_seal(k, a, len) && seal(k, b, len) && memcmp(a, b, len) == 0 &&
         open_into(k, a, len, out) && evp_open(k, b, len, back) &&
         memcmp(out, back, len - OVERHEAD) == 0;
    if (ok) {
      a[len - 1] ^= 1; /* a forged tag: refused, and nothing written */
      memset(out, 0xa5, len - OVERHEAD);
      ok = !open_into(k, a, len, out);
      for (size_t j = 0; ok && j < len - OVERHEAD; j++) ok = out[j] == 0xa5;
    }
  }
  if (k) free_key(k);
  return ok;
}

/* aeadKey(secret: Uint8Array(32)) → handle. Throws on a bad argument or when OpenSSL fails. */
static napi_value js_key(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], handle;
  uint8_t* secret = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      !bytes_of(env, argv[0], &secret, &len) || len != KEY) {
    napi_throw_type_error(env, NULL, "aeadKey(secret): a 32-byte Uint8Array");
    return NULL;
  }
  aead_key_t* k = new_key(secret, fast_ready());
  if (k == NULL) {
    napi_throw_error(env, NULL, "aeadKey(): OpenSSL could not set up ChaCha20-Poly1305");
    return NULL;
  }
  if (napi_create_external(env, k, finalize_key, NULL, &handle) != napi_ok) {
    free_key(k);
    return NULL;
  }
  /* What V8 cannot see of a handle: the contexts are OpenSSL's (~1 KB), the rest ours. */
  int64_t ignored;
  k->accounted = (int64_t)(sizeof *k + 1024 + (k->scratch ? SCRATCH + fast.poly_size() : 0));
  napi_adjust_external_memory(env, k->accounted, &ignored);
  if (napi_type_tag_object(env, handle, &KEY_TAG) != napi_ok) return NULL;
  return handle;
}

/* The key handle and the datagram of a seal/open call: (handle, datagram[, out]). */
static int args_of(napi_env env, napi_callback_info info, size_t want, aead_key_t** k,
                   uint8_t** d, size_t* dlen, uint8_t** out, size_t* olen) {
  size_t argc = 3;
  napi_value argv[3];
  void* p = NULL;
  bool tagged = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want ||
      napi_check_object_type_tag(env, argv[0], &KEY_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL ||
      !bytes_of(env, argv[1], d, dlen) || *dlen < OVERHEAD || *dlen > INT32_MAX ||
      (want == 3 && (!bytes_of(env, argv[2], out, olen) || *olen != *dlen - OVERHEAD)))
    return 0;
  *k = p;
  return 1;
}

/*
 * aeadSeal(handle, datagram): datagram holds header ‖ nonce ‖ plaintext ‖ 16 bytes of room; the
 * plaintext is encrypted in place and the tag written at the end. Returns false if OpenSSL fails.
 */
static napi_value js_seal(napi_env env, napi_callback_info info) {
  aead_key_t* k;
  uint8_t *d, *unused;
  size_t len, ulen;
  if (!args_of(env, info, 2, &k, &d, &len, &unused, &ulen)) {
    napi_throw_type_error(env, NULL, "aeadSeal(handle, datagram): bad arguments");
    return NULL;
  }
  return boolean(env, seal(k, d, len));
}

/*
 * aeadOpen(handle, datagram, out): verifies the tag of header ‖ nonce ‖ ciphertext ‖ tag and
 * decrypts into out (exactly the ciphertext's length). Returns true when the tag verifies; on false,
 * out may hold unauthenticated bytes (EVP writes before it checks) and must not be read. The
 * datagram is never written.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  aead_key_t* k;
  uint8_t *d, *out;
  size_t len, olen;
  if (!args_of(env, info, 3, &k, &d, &len, &out, &olen)) {
    napi_throw_type_error(env, NULL, "aeadOpen(handle, datagram, out): bad arguments");
    return NULL;
  }
  return boolean(env, open_into(k, d, len, out));
}

aead_key_t* aead_key_new(const uint8_t* secret) {
  return resolve() ? new_key(secret, fast_ready()) : NULL;
}

void aead_key_free(aead_key_t* k) {
  if (k != NULL) free_key(k);
}

int aead_seal_datagram(aead_key_t* k, uint8_t* d, size_t len) {
  return len >= OVERHEAD && seal(k, d, len);
}

int aead_open_datagram(aead_key_t* k, const uint8_t* d, size_t len, uint8_t* out) {
  return len >= OVERHEAD && open_into(k, d, len, out);
}

/* aeadPath (a getter): "primitives" or "evp", deciding the fast path if no key has yet. */
static napi_value js_path(napi_env env, napi_callback_info info) {
  napi_value path = NULL;
  napi_create_string_utf8(env, fast_ready() ? "primitives" : "evp", NAPI_AUTO_LENGTH, &path);
  return path;
}

napi_status aead_register(napi_env env, napi_value exports) {
  if (!resolve()) return napi_ok; /* no OpenSSL in this process: node:crypto it is */
  napi_property_descriptor props[] = {
      {"aeadPath", NULL, NULL, js_path, NULL, NULL, napi_enumerable, NULL},
      {"aeadKey", NULL, js_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aeadSeal", NULL, js_seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aeadOpen", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
