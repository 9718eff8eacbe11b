/* The sealed server's reply path in C (udplab_sealed.c), for the native socket's --quiet mode. */
#ifndef UDPLAB_SEALED_H
#define UDPLAB_SEALED_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* The counters a sealed server keeps, as doubles in an ArrayBuffer JS reads (src/backend/native.ts
 * has the same order): cumulative since the path started. */
enum {
  SC_RECEIVED,
  SC_REPLIED,
  SC_REJECTED,
  SC_NOT_SEALED, /* the reject reasons, in REJECT_REASONS' order (src/server-events.ts) */
  SC_MALFORMED,
  SC_BAD_AUTH,
  SC_WRONG_TYPE,
  SC_STALE,
  SC_REPLAY,
  SC_CACHE_FULL,
  SC_RETRANSMISSIONS,
  SC_SEND_FAILED,
  SC_ENTRIES, /* IDs in the replay cache now */
  SC_COUNT
};

/* The longest reply: 49 bytes of seal around "I received from you a message of 65535 bytes". */
#define SEALED_REPLY_MAX 128

typedef struct sealed_s sealed_t;

/* A sealed server's state for the key (32 bytes) and replay rules; NULL when out of memory or
 * without OpenSSL. counts: SC_COUNT doubles, written from now on. */
sealed_t* sealed_new(const uint8_t* secret, double window_ms, uint32_t capacity,
                     double not_before_ms, double* counts);
void sealed_free(sealed_t* s);
/* A received datagram after sealed_open(): an authentic request's fields, or ok = 0. */
typedef struct {
  int ok;
  uint32_t hi, lo, attempt, body_len;
  double time;
} sealed_req_t;

/* Checks and opens one datagram as ServerCore does in sealed mode (src/server-core.ts): counts it,
 * and a rejection with its reason; for an authentic request, fills r and starts loading its replay
 * cache entry (a batch is opened first, then answered: the lookups overlap). */
void sealed_open(sealed_t* s, const uint8_t* d, size_t len, sealed_req_t* r);
/* Judges an opened request by the replay rules and writes its sealed reply into out
 * (SEALED_REPLY_MAX bytes of room): returns the reply's length, or 0 for no reply (rejected,
 * counted). now_ms: the wall clock, ms since 1970. */
size_t sealed_reply(sealed_t* s, const sealed_req_t* r, double now_ms, uint8_t* out);
/* Counts replies the socket could not send, and the cache's size, after a batch. */
void sealed_after_batch(sealed_t* s, double send_failed);

/* The load generator's side (udplab bench --key-file on the native backend): request `seq`
 * carries the ID base + seq (base: hi, lo words), attempt 1, a body of `size` bytes of 'x'; a reply
 * must authenticate, be of the reply type, name one of the run's IDs and carry "I received from
 * you a message of <size> bytes" (src/bench-sealed.ts does the same in JS). */
typedef struct sealed_load_s sealed_load_t;
enum { LOAD_BAD, LOAD_OK, LOAD_BAD_SEQ }; /* names no request; answers seq; bad answer to seq */
sealed_load_t* sealed_load_new(const uint8_t* secret, uint32_t base_hi, uint32_t base_lo,
                               uint32_t size);
void sealed_load_free(sealed_load_t* l);
/* Writes request seq sealed at now_ms into out (49 + size bytes); 0 if it could not be sealed. */
size_t sealed_load_request(sealed_load_t* l, double seq, double now_ms, uint8_t* out);
/* Reads a reply: LOAD_OK or LOAD_BAD_SEQ with *seq set, or LOAD_BAD. */
int sealed_load_match(sealed_load_t* l, const uint8_t* d, size_t len, double* seq);

/* Adds the replay cache's test hooks (replayOpen, replayCheck, replaySize) to exports. */
napi_status sealed_register(napi_env env, napi_value exports);

#endif
