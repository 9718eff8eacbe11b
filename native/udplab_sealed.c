/*
 * The sealed server's reply path in C. A native socket of a sealed `--quiet` server answers every
 * datagram of a batch here, without calling JS: open (udplab_aead.c), the replay rules
 * (udplab_replay.c), seal. The same checks in the same order, the same counters and the same reply
 * bytes as ServerCore's sealed mode in src/server-core.ts (which runs whenever per-datagram events,
 * drops or a rate limit are on, and on the dgram backend); test/sealed-native.test.ts holds the
 * two to that. docs/native.md, "Sealed replies in C".
 *
 * Wire layout (docs/wire-format.md): 0xFE ‖ 0x01 ‖ type ‖ nonce (12) ‖ sealed: ID (u64 BE) ‖ time
 * (u64 BE, ms) ‖ attempt (u16 BE) ‖ body ‖ tag (16).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8 /* type tags */
#include "udplab_sealed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "udplab_aead.h"
#include "udplab_replay.h"

#define MAGIC 0xfe
#define VERSION 1
#define T_REQUEST 1
#define T_REPLY 2
#define HEADER 3
#define NONCE 12
#define TAG 16
#define INNER 18 /* ID, time, attempt */
#define OVERHEAD (HEADER + NONCE + INNER + TAG)
#define POOL 256 /* nonces drawn from the kernel's CSPRNG at once */
#define MAX_PLAIN 65536

static const char REPLY_TEXT[] = "I received from you a message of ";

typedef struct {
  uint8_t pool[NONCE * POOL];
  unsigned at; /* POOL: empty */
} nonces_t;

struct sealed_s {
  aead_key_t* key;
  replay_t* replay;
  double* counts;
  nonces_t nonces;
  uint8_t plain[MAX_PLAIN]; /* the request being opened */
};

sealed_t* sealed_new(const uint8_t* secret, double window_ms, uint32_t capacity,
                     double not_before_ms, double* counts) {
  sealed_t* s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->key = aead_key_new(secret);
  s->replay = replay_new(window_ms, capacity, not_before_ms);
  if (s->key == NULL || s->replay == NULL) {
    sealed_free(s);
    return NULL;
  }
  s->counts = counts;
  s->nonces.at = POOL; /* drawn on the first reply */
  return s;
}

void sealed_free(sealed_t* s) {
  if (s == NULL) return;
  aead_key_free(s->key);
  replay_free(s->replay);
  explicit_bzero(s, sizeof *s); /* the plaintext of the last request, the unused nonces */
  free(s);
}

void sealed_after_batch(sealed_t* s, double send_failed) {
  s->counts[SC_SEND_FAILED] += send_failed;
  s->counts[SC_ENTRIES] = replay_size(s->replay);
}

static uint32_t be32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Whether the pool holds a nonce, refilling it from getrandom (256 at a time) when empty; 0 when
 * the kernel has no randomness to give (then nothing is remembered or sealed). */
static int have_nonce(nonces_t* n) {
  if (n->at < POOL) return 1;
  size_t got = 0;
  while (got < sizeof n->pool) {
    ssize_t r = getrandom(n->pool + got, sizeof n->pool - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    got += (size_t)r;
  }
  n->at = 0;
  return 1;
}

/* Takes the next nonce (have_nonce() said there is one). */
static void next_nonce(nonces_t* n, uint8_t* out) {
  memcpy(out, n->pool + (size_t)n->at * NONCE, NONCE);
  explicit_bzero(n->pool + (size_t)n->at * NONCE, NONCE); /* every nonce used once */
  n->at++;
}

/* Seals the reply an entry describes into out; returns its length (0 if OpenSSL failed). */
static size_t seal_reply(sealed_t* s, const replay_entry_t* e, uint8_t* out) {
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = T_REPLY;
  memcpy(out + HEADER, e->nonce, NONCE);
  uint8_t* p = out + HEADER + NONCE;
  put_be32(p, e->hi);
  put_be32(p + 4, e->lo);
  uint64_t t = (uint64_t)e->reply_time;
  put_be32(p + 8, (uint32_t)(t >> 32));
  put_be32(p + 12, (uint32_t)t);
  p[16] = (uint8_t)(e->first >> 8);
  p[17] = (uint8_t)e->first;
  p += INNER;
  memcpy(p, REPLY_TEXT, sizeof REPLY_TEXT - 1);
  p += sizeof REPLY_TEXT - 1;
  char digits[10];
  int n = 0;
  uint32_t v = e->body_len;
  do digits[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  while (n > 0) *p++ = (uint8_t)digits[--n];
  memcpy(p, " bytes", 6);
  p += 6;
  size_t len = (size_t)(p - out) + TAG;
  return aead_seal_datagram(s->key, out, len) ? len : 0;
}

static size_t reject(sealed_t* s, int reason) {
  s->counts[SC_REJECTED]++;
  s->counts[reason]++;
  return 0;
}

void sealed_open(sealed_t* s, const uint8_t* d, size_t len, sealed_req_t* r) {
  r->ok = 0;
  s->counts[SC_RECEIVED]++;
  /* The tag is verified before any field is read; nothing is answered to a datagram that fails
   * any check (no reflection, nothing to learn from). */
  if (len == 0 || d[0] != MAGIC) {
    reject(s, SC_NOT_SEALED);
    return;
  }
  if (len < OVERHEAD || d[1] != VERSION || (d[2] != T_REQUEST && d[2] != T_REPLY)) {
    reject(s, SC_MALFORMED);
    return;
  }
  size_t plain_len = len - HEADER - NONCE - TAG;
  uint8_t* m = s->plain;
  if (plain_len > MAX_PLAIN || !aead_open_datagram(s->key, d, len, m)) {
    explicit_bzero(m, plain_len > MAX_PLAIN ? MAX_PLAIN : plain_len); /* unauthenticated */
    reject(s, SC_BAD_AUTH);
    return;
  }
  if (m[16] == 0 && m[17] == 0) { /* attempts count from 1 */
    reject(s, SC_MALFORMED);
    return;
  }
  if (d[2] != T_REQUEST) {
    reject(s, SC_WRONG_TYPE);
    return;
  }
  r->ok = 1;
  r->hi = be32(m);
  r->lo = be32(m + 4);
  r->time = (double)((uint64_t)be32(m + 8) << 32 | be32(m + 12));
  r->attempt = (uint32_t)m[16] << 8 | m[17];
  r->body_len = (uint32_t)(plain_len - INNER);
  replay_prefetch(s->replay, r->hi, r->lo);
}

size_t sealed_reply(sealed_t* s, const sealed_req_t* r, double now_ms, uint8_t* out) {
  if (!r->ok) return 0;
  if (!have_nonce(&s->nonces)) {
    s->counts[SC_SEND_FAILED]++;
    return 0;
  }
  replay_entry_t* e;
  /* A new entry is remembered before its reply is sealed; if OpenSSL then failed (it does not
   * for a key it set up), the ID stays remembered without a reply (counted in sendFailed), where
   * ServerCore would throw before remembering it: a retransmission gets the reply then. */
  switch (replay_check(s->replay, r->hi, r->lo, r->time, r->attempt, now_ms, &e)) {
    case REPLAY_NEW:
      next_nonce(&s->nonces, e->nonce);
      e->reply_time = now_ms;
      e->body_len = r->body_len;
      break;
    case REPLAY_RETRANSMISSION:
      s->counts[SC_RETRANSMISSIONS]++;
      break; /* the same fields and nonce: the same bytes as the first reply */
    case REPLAY_STALE: return reject(s, SC_STALE);
    case REPLAY_REPLAY: return reject(s, SC_REPLAY);
    default: return reject(s, SC_CACHE_FULL);
  }
  size_t out_len = seal_reply(s, e, out);
  if (out_len == 0) s->counts[SC_SEND_FAILED]++;
  else s->counts[SC_REPLIED]++;
  return out_len;
}

/* ---- The load generator's side (udplab bench --key-file on the native backend) ---- */

struct sealed_load_s {
  aead_key_t* key;
  uint32_t base_hi, base_lo, size;
  uint8_t expected[sizeof REPLY_TEXT + 16]; /* the reply text every reply must carry */
  size_t expected_len;
  nonces_t nonces;
  uint8_t plain[MAX_PLAIN]; /* the reply being opened */
};

sealed_load_t* sealed_load_new(const uint8_t* secret, uint32_t base_hi, uint32_t base_lo,
                               uint32_t size) {
  if (size > MAX_PLAIN - INNER) return NULL;
  sealed_load_t* l = calloc(1, sizeof *l);
  if (l == NULL) return NULL;
  if ((l->key = aead_key_new(secret)) == NULL) {
    free(l);
    return NULL;
  }
  l->base_hi = base_hi;
  l->base_lo = base_lo;
  l->size = size;
  l->nonces.at = POOL;
  int n = snprintf((char*)l->expected, sizeof l->expected, "%s%u bytes", REPLY_TEXT, size);
  l->expected_len = (size_t)n;
  return l;
}

void sealed_load_free(sealed_load_t* l) {
  if (l == NULL) return;
  aead_key_free(l->key);
  explicit_bzero(l, sizeof *l);
  free(l);
}

size_t sealed_load_request(sealed_load_t* l, double seq, double now_ms, uint8_t* out) {
  if (!have_nonce(&l->nonces)) return 0;
  /* base + seq in words (seq < 2^53, the base's high word < 2^30: no overflow). */
  uint64_t id = ((uint64_t)l->base_hi << 32 | l->base_lo) + (uint64_t)seq;
  uint64_t t = (uint64_t)now_ms;
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = T_REQUEST;
  next_nonce(&l->nonces, out + HEADER);
  uint8_t* p = out + HEADER + NONCE;
  put_be32(p, (uint32_t)(id >> 32));
  put_be32(p + 4, (uint32_t)id);
  put_be32(p + 8, (uint32_t)(t >> 32));
  put_be32(p + 12, (uint32_t)t);
  p[16] = 0;
  p[17] = 1; /* attempt 1: the load never retransmits */
  memset(p + INNER, 'x', l->size);
  size_t len = OVERHEAD + l->size;
  return aead_seal_datagram(l->key, out, len) ? len : 0;
}

int sealed_load_match(sealed_load_t* l, const uint8_t* d, size_t len, double* seq) {
  /* As src/bench-sealed.ts's match(): the same checks as openInto(), then the ID and the text. */
  if (len < OVERHEAD || d[0] != MAGIC || d[1] != VERSION || d[2] != T_REPLY) return LOAD_BAD;
  size_t plain_len = len - HEADER - NONCE - TAG;
  uint8_t* m = l->plain;
  if (plain_len > MAX_PLAIN || !aead_open_datagram(l->key, d, len, m)) return LOAD_BAD;
  if (m[16] == 0 && m[17] == 0) return LOAD_BAD;
  double n = ((double)be32(m) - l->base_hi) * 4294967296.0 + ((double)be32(m + 4) - l->base_lo);
  if (!(n >= 1 && n <= 9007199254740991.0)) return LOAD_BAD;
  *seq = n;
  if (plain_len - INNER != l->expected_len ||
      memcmp(m + INNER, l->expected, l->expected_len) != 0)
    return LOAD_BAD_SEQ;
  return LOAD_OK;
}

/* ---- Test hooks: the replay cache alone (test/sealed-native.test.ts) ---- */

static const napi_type_tag REPLAY_TAG = {0x7564706c61627265ULL, 0x706c617920636163ULL};

static void finalize_replay(napi_env env, void* data, void* hint) { replay_free(data); }

/* replayOpen(windowMs, capacity, notBeforeMs): a cache handle. */
static napi_value js_replay_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], handle;
  double window = 0, not_before = 0, cap = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_double(env, argv[0], &window) != napi_ok || !(window > 0 && isfinite(window)) ||
      napi_get_value_double(env, argv[1], &cap) != napi_ok || !(cap >= 1 && cap <= REPLAY_MAX_CAPACITY) ||
      cap != (uint32_t)cap || napi_get_value_double(env, argv[2], &not_before) != napi_ok) {
    napi_throw_type_error(env, NULL, "replayOpen(windowMs, capacity, notBeforeMs): bad arguments");
    return NULL;
  }
  replay_t* r = replay_new(window, (uint32_t)cap, not_before);
  if (r == NULL || napi_create_external(env, r, finalize_replay, NULL, &handle) != napi_ok) {
    replay_free(r);
    napi_throw_error(env, NULL, "replayOpen(): out of memory");
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &REPLAY_TAG) != napi_ok) return NULL;
  return handle;
}

static replay_t* replay_of(napi_env env, napi_value v) {
  void* p = NULL;
  bool tagged = false;
  return napi_check_object_type_tag(env, v, &REPLAY_TAG, &tagged) == napi_ok && tagged &&
                 napi_get_value_external(env, v, &p) == napi_ok
             ? p
             : NULL;
}

/* replayCheck(handle, hi, lo, timeMs, attempt, nowMs): the verdict, 0–4 (new, retransmission,
 * stale, replay, cache-full); a new ID is remembered at once. */
static napi_value js_replay_check(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], out;
  uint32_t hi = 0, lo = 0, attempt = 0;
  double time_ms = 0, now_ms = 0;
  replay_t* r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 ||
      (r = replay_of(env, argv[0])) == NULL || napi_get_value_uint32(env, argv[1], &hi) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &lo) != napi_ok ||
      napi_get_value_double(env, argv[3], &time_ms) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &attempt) != napi_ok ||
      napi_get_value_double(env, argv[5], &now_ms) != napi_ok) {
    napi_throw_type_error(env, NULL, "replayCheck(handle, hi, lo, timeMs, attempt, nowMs): bad arguments");
    return NULL;
  }
  replay_entry_t* e;
  if (napi_create_int32(env, replay_check(r, hi, lo, time_ms, attempt, now_ms, &e), &out) != napi_ok)
    return NULL;
  return out;
}

/* replaySize(handle): [IDs remembered, bytes allocated]. */
static napi_value js_replay_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  replay_t* r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      (r = replay_of(env, argv[0])) == NULL) {
    napi_throw_type_error(env, NULL, "replaySize(handle): bad arguments");
    return NULL;
  }
  if (napi_create_array_with_length(env, 2, &out) != napi_ok ||
      napi_create_double(env, replay_size(r), &v) != napi_ok ||
      napi_set_element(env, out, 0, v) != napi_ok ||
      napi_create_double(env, replay_bytes(r), &v) != napi_ok ||
      napi_set_element(env, out, 1, v) != napi_ok)
    return NULL;
  return out;
}

napi_status sealed_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"replayOpen", NULL, js_replay_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"replayCheck", NULL, js_replay_check, NULL, NULL, NULL, napi_enumerable, NULL},
      {"replaySize", NULL, js_replay_size, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
