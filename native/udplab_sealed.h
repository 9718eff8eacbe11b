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
/* Answers one datagram as ServerCore does in sealed mode (src/server-core.ts): writes the sealed
 * reply into out (SEALED_REPLY_MAX bytes of room) and returns its length, or 0 when the datagram
 * gets no reply (rejected, counted). now_ms: the wall clock, ms since 1970. */
size_t sealed_answer(sealed_t* s, const uint8_t* d, size_t len, double now_ms, uint8_t* out);
/* Counts replies the socket could not send, and the cache's size, after a batch. */
void sealed_after_batch(sealed_t* s, double send_failed);

/* Adds the replay cache's test hooks (replayOpen, replayCheck, replaySize) to exports. */
napi_status sealed_register(napi_env env, napi_value exports);

#endif
