/* The replay cache of the sealed server in C (udplab_replay.c): the rules of src/replay.ts. */
#ifndef UDPLAB_REPLAY_H
#define UDPLAB_REPLAY_H
#include <stdint.h>

/* A remembered request and what its reply was made of: sealing the same fields under the same
 * nonce gives the reply's bytes again (ChaCha20-Poly1305 is deterministic), so a retransmission
 * gets the very datagram the first attempt got without the cache keeping it. */
typedef struct {
  uint32_t hi, lo;      /* the request ID's words */
  uint32_t attempt;     /* the highest attempt accepted */
  uint32_t first;       /* the attempt the reply answered */
  double expires;       /* when any copy of its datagrams is stale: max(time) + window, ms */
  double reply_time;    /* the reply's time field, ms */
  uint32_t body_len;    /* the request body's length (the reply's text says it) */
  uint8_t nonce[12];    /* the reply's nonce */
} replay_entry_t;

/* The verdicts, in the order of src/replay.ts's kinds. */
enum { REPLAY_NEW, REPLAY_RETRANSMISSION, REPLAY_STALE, REPLAY_REPLAY, REPLAY_FULL };

typedef struct replay_s replay_t;

/* The largest capacity, as src/replay.ts's MAX_REPLAY_CAPACITY. */
#define REPLAY_MAX_CAPACITY 16777216u

/* A cache for ±window_ms, at most capacity entries, refusing requests sealed before
 * not_before_ms; NULL when out of memory, or for a window not finite and > 0 or a capacity not
 * in 1 … REPLAY_MAX_CAPACITY. Memory grows by doubling as it fills. */
replay_t* replay_new(double window_ms, uint32_t capacity, double not_before_ms);
void replay_free(replay_t* r);
/* Judges an authenticated request (src/replay.ts's checkWords and, for a new one, rememberWords
 * at once): NEW gives the entry to fill with the reply's fields; RETRANSMISSION the entry whose
 * reply goes again (its attempt and expiry already updated). */
int replay_check(replay_t* r, uint32_t hi, uint32_t lo, double time_ms, uint32_t attempt,
                 double now_ms, replay_entry_t** entry);
/* Starts loading the table cell of (hi, lo) into the cache, for a replay_check() soon after: a
 * batch's lookups then overlap instead of each waiting for memory. */
void replay_prefetch(const replay_t* r, uint32_t hi, uint32_t lo);
/* How many IDs are remembered. */
uint32_t replay_size(const replay_t* r);
/* Bytes allocated now (for the docs' memory figures and the tests' bound). */
double replay_bytes(const replay_t* r);

#endif
