/*
 * ChaCha20-Poly1305 for udplab's sealed datagrams (docs/wire-format.md, docs/native.md), without a
 * JS object per datagram: one N-API call seals or opens a whole datagram in place.
 *
 * The cipher is not ours: it is the OpenSSL inside the running Node (the code node:crypto uses),
 * found at load time with dlsym(). Nothing here links against OpenSSL, needs its headers or pins
 * its version; when a symbol is missing (a Node built without OpenSSL), the functions are simply
 * not exported and udplab keeps using node:crypto. The declarations below are OpenSSL's stable
 * public API (1.1 and 3.x): opaque pointers and three control codes.
 *
 * A key handle holds two cipher contexts (seal, open) initialised with the key once; each datagram
 * only sets its nonce. The handle is not shared between threads (one per JS environment).
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

#define HEADER 3   /* magic, version, type: the associated data */
#define NONCE 12
#define TAG 16
#define KEY 32
#define OVERHEAD (HEADER + NONCE + TAG)

/* Marks key handles, so that no other external can be taken for one. */
static const napi_type_tag KEY_TAG = {0x7564706c61626165ULL, 0x6164206b65792031ULL};

typedef struct {
  EVP_CIPHER_CTX* seal;
  EVP_CIPHER_CTX* open;
} aead_key_t;

static pthread_once_t resolved = PTHREAD_ONCE_INIT;

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

static int resolve(void) {
  pthread_once(&resolved, resolve_once);
  return ossl.ctx_new && ossl.ctx_free && ossl.chacha20_poly1305 && ossl.init && ossl.update &&
         ossl.final && ossl.ctrl;
}

static void free_key(aead_key_t* k) {
  if (k->seal) ossl.ctx_free(k->seal); /* EVP_CIPHER_CTX_free wipes the key schedule */
  if (k->open) ossl.ctx_free(k->open);
  free(k);
}

static void finalize_key(napi_env env, void* data, void* hint) { free_key(data); }

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
  aead_key_t* k = calloc(1, sizeof *k);
  if (k == NULL || (k->seal = ossl.ctx_new()) == NULL || (k->open = ossl.ctx_new()) == NULL ||
      ossl.init(k->seal, ossl.chacha20_poly1305(), NULL, secret, NULL, 1) != 1 ||
      ossl.init(k->open, ossl.chacha20_poly1305(), NULL, secret, NULL, 0) != 1) {
    if (k) free_key(k);
    napi_throw_error(env, NULL, "aeadKey(): OpenSSL could not set up ChaCha20-Poly1305");
    return NULL;
  }
  if (napi_create_external(env, k, finalize_key, NULL, &handle) != napi_ok) {
    free_key(k);
    return NULL;
  }
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
  int n = 0, plain = (int)(len - OVERHEAD);
  uint8_t* text = d + HEADER + NONCE;
  int ok = ossl.init(k->seal, NULL, NULL, NULL, d + HEADER, 1) == 1 &&
           ossl.update(k->seal, NULL, &n, d, HEADER) == 1 &&
           (plain == 0 || ossl.update(k->seal, text, &n, text, plain) == 1) &&
           ossl.final(k->seal, text + plain, &n) == 1 &&
           ossl.ctrl(k->seal, CTRL_AEAD_GET_TAG, TAG, text + plain) == 1;
  return boolean(env, ok);
}

/*
 * aeadOpen(handle, datagram, out): verifies the tag of header ‖ nonce ‖ ciphertext ‖ tag and
 * decrypts into out (exactly the ciphertext's length). Returns true when the tag verifies; on false,
 * out holds unauthenticated bytes and must not be read. The datagram is never written.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  aead_key_t* k;
  uint8_t *d, *out;
  size_t len, olen;
  if (!args_of(env, info, 3, &k, &d, &len, &out, &olen)) {
    napi_throw_type_error(env, NULL, "aeadOpen(handle, datagram, out): bad arguments");
    return NULL;
  }
  int n = 0, cipher = (int)olen;
  uint8_t tag[TAG];
  memcpy(tag, d + len - TAG, TAG); /* set_tag takes a non-const pointer */
  int ok = ossl.init(k->open, NULL, NULL, NULL, d + HEADER, 0) == 1 &&
           ossl.ctrl(k->open, CTRL_AEAD_SET_TAG, TAG, tag) == 1 &&
           ossl.update(k->open, NULL, &n, d, HEADER) == 1 &&
           (cipher == 0 || ossl.update(k->open, out, &n, d + HEADER + NONCE, cipher) == 1) &&
           ossl.final(k->open, out + cipher, &n) == 1;
  return boolean(env, ok);
}

napi_status aead_register(napi_env env, napi_value exports) {
  if (!resolve()) return napi_ok; /* no OpenSSL in this process: node:crypto it is */
  napi_property_descriptor props[] = {
      {"aeadKey", NULL, js_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aeadSeal", NULL, js_seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aeadOpen", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
