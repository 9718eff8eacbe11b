/*
 * The sealed server's replay cache in C, for the native socket's sealed path (udplab_sealed.c).
 * The same rules and the same structure as src/replay.ts, which the dgram backend and the
 * per-datagram events use; test/sealed-native.test.ts runs both on the same random requests and
 * checks that their verdicts agree.
 *
 * A request is fresh when its time is within ±window of the server's clock (and not before the
 * server started) and its ID has not been seen. An accepted ID is remembered until any copy of its
 * datagrams would be stale: a higher attempt is a retransmission (the reply goes again), an attempt
 * already seen is a replay. Entries sit in slots; an open-addressing table (linear probing, at most
 * half full) maps an ID to its slot, with the ID beside the slot number so that a lookup touches one
 * cache line; a ring keeps the slots in arrival order, nearly expiry order, for the sweep. All grow
 * by doubling up to the capacity; a full cache of unexpired entries refuses new requests.
 */
#include "udplab_replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 1024

typedef struct {
  uint32_t hi, lo, slot1, pad; /* slot1: the slot + 1, 0 for an empty cell */
} cell_t;

struct replay_s {
  double window, not_before;
  uint32_t capacity;
  cell_t* table;
  uint32_t mask; /* cells − 1 */
  replay_entry_t* slots;
  uint32_t len;   /* slots allocated (also the ring's length) */
  uint32_t* order; /* the ring: size slots from head, in arrival order */
  uint32_t head, size;
  uint32_t* free; /* slots the sweep gave back (a stack) */
  uint32_t nfree, used;
  double last_sweep, next_full_sweep;
};

static uint32_t hash_of(uint32_t hi, uint32_t lo, uint32_t mask) {
  uint32_t h = lo ^ (hi * 0x9e3779b1u); /* murmur3's 32-bit finaliser, as src/replay.ts */
  h = (h ^ (h >> 16)) * 0x85ebca6bu;
  h = (h ^ (h >> 13)) * 0xc2b2ae35u;
  return (h ^ (h >> 16)) & mask;
}

replay_t* replay_new(double window_ms, uint32_t capacity, double not_before_ms) {
  if (!(window_ms > 0 && isfinite(window_ms)) || capacity < 1 || capacity > REPLAY_MAX_CAPACITY)
    return NULL;
  replay_t* r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->window = window_ms;
  r->capacity = capacity;
  r->not_before = not_before_ms;
  r->last_sweep = NAN;
  r->next_full_sweep = -INFINITY;
  return r;
}

void replay_free(replay_t* r) {
  if (r == NULL) return;
  free(r->table);
  free(r->slots);
  free(r->order);
  free(r->free);
  free(r);
}

uint32_t replay_size(const replay_t* r) { return r->size; }

double replay_bytes(const replay_t* r) {
  double cells = r->table == NULL ? 0 : (double)r->mask + 1;
  return sizeof *r + cells * sizeof(cell_t) +
         (double)r->len * (sizeof(replay_entry_t) + 2 * sizeof(uint32_t));
}

void replay_prefetch(const replay_t* r, uint32_t hi, uint32_t lo) {
  if (r->table != NULL) __builtin_prefetch(&r->table[hash_of(hi, lo, r->mask)], 1);
}

/* The cell of (hi, lo), or the empty cell where it would go; NULL when there is no table yet. */
static cell_t* find(const replay_t* r, uint32_t hi, uint32_t lo) {
  if (r->table == NULL) return NULL;
  uint32_t at = hash_of(hi, lo, r->mask);
  for (;;) {
    cell_t* c = &r->table[at];
    if (c->slot1 == 0 || (c->hi == hi && c->lo == lo)) return c;
    at = (at + 1) & r->mask;
  }
}

/* Doubles the slots (never past the capacity) and rebuilds the table and the ring; 0 when out of
 * memory (nothing changed then). */
static int grow(replay_t* r) {
  uint32_t old = r->len;
  uint32_t n = old * 2 > INITIAL_SLOTS ? old * 2 : INITIAL_SLOTS;
  if (n > r->capacity || n < old) n = r->capacity;
  uint64_t cells = 2; /* a capacity is at most 2^24 (replay_new), so this stays small */
  while (cells < (uint64_t)n * 2) cells *= 2;
  replay_entry_t* slots = realloc(r->slots, (size_t)n * sizeof *slots);
  if (slots == NULL) return 0;
  r->slots = slots;
  uint32_t* order = malloc((size_t)n * sizeof *order);
  uint32_t* fr = realloc(r->free, (size_t)n * sizeof *fr);
  cell_t* table = calloc(cells, sizeof *table);
  if (order == NULL || fr == NULL || table == NULL) {
    free(order);
    free(table);
    if (fr != NULL) r->free = fr;
    return 0;
  }
  r->free = fr;
  for (uint32_t i = 0; i < r->size; i++) order[i] = r->order[(r->head + i) % old];
  free(r->order);
  r->order = order;
  r->head = 0;
  r->len = n;
  free(r->table);
  r->table = table;
  r->mask = (uint32_t)(cells - 1);
  for (uint32_t i = 0; i < r->size; i++) {
    uint32_t slot = order[i];
    cell_t* c = find(r, r->slots[slot].hi, r->slots[slot].lo);
    *c = (cell_t){r->slots[slot].hi, r->slots[slot].lo, slot + 1, 0};
  }
  return 1;
}

/* Takes a slot's ID out of the table (backward-shift deletion: no tombstones) and frees the slot. */
static void forget(replay_t* r, uint32_t slot) {
  cell_t* t = r->table;
  uint32_t hole = (uint32_t)(find(r, r->slots[slot].hi, r->slots[slot].lo) - t);
  uint32_t at = hole;
  for (;;) {
    at = (at + 1) & r->mask;
    if (t[at].slot1 == 0) break;
    /* The entry at `at` may fill the hole unless its home lies cyclically in (hole, at]. */
    uint32_t home = hash_of(t[at].hi, t[at].lo, r->mask);
    if (hole <= at ? (hole < home && home <= at) : (hole < home || home <= at)) continue;
    t[hole] = t[at];
    hole = at;
  }
  t[hole].slot1 = 0;
  r->free[r->nfree++] = slot;
}

/* Forgets expired entries (src/replay.ts's #sweep: from the front at most once a millisecond, the
 * whole ring at most once a second when full); 1 when it forgot any (cells may have moved). */
static int sweep(replay_t* r, double now) {
  if (now == r->last_sweep && r->size < r->capacity) return 0;
  r->last_sweep = now;
  uint32_t before = r->size;
  while (r->size > 0) {
    /* The entries a few steps ahead, and their cells (each a cache miss otherwise). */
    if (r->size > 8) __builtin_prefetch(&r->slots[r->order[(r->head + 8) % r->len]]);
    if (r->size > 4) {
      const replay_entry_t* ahead = &r->slots[r->order[(r->head + 4) % r->len]];
      replay_prefetch(r, ahead->hi, ahead->lo);
    }
    uint32_t slot = r->order[r->head];
    if (r->slots[slot].expires >= now) break;
    forget(r, slot);
    r->head = (r->head + 1) % r->len;
    r->size--;
  }
  if (r->size < r->capacity || now < r->next_full_sweep) return r->size < before;
  r->next_full_sweep = now + 1000;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < r->size; i++) {
    uint32_t slot = r->order[(r->head + i) % r->len];
    if (r->slots[slot].expires < now) forget(r, slot);
    else r->order[(r->head + kept++) % r->len] = slot;
  }
  r->size = kept;
  return r->size < before;
}

int replay_check(replay_t* r, uint32_t hi, uint32_t lo, double time_ms, uint32_t attempt,
                 double now_ms, replay_entry_t** entry) {
  *entry = NULL;
  if (!(fabs(now_ms - time_ms) <= r->window) || time_ms < r->not_before) return REPLAY_STALE;
  cell_t* c = find(r, hi, lo);
  if (c != NULL && c->slot1 != 0) {
    replay_entry_t* e = &r->slots[c->slot1 - 1];
    if (e->expires < now_ms) {
      /* Remembered but expired (not yet swept): every copy of its datagrams is stale, so this is
       * a new request that reuses the ID, and it takes the entry's place. */
      e->attempt = e->first = attempt;
      e->expires = time_ms + r->window;
      *entry = e;
      return REPLAY_NEW;
    }
    if (attempt <= e->attempt) return REPLAY_REPLAY;
    e->attempt = attempt;
    if (time_ms + r->window > e->expires) e->expires = time_ms + r->window;
    *entry = e;
    return REPLAY_RETRANSMISSION;
  }
  if (sweep(r, now_ms)) c = find(r, hi, lo);
  if (r->size >= r->capacity) return REPLAY_FULL;
  uint32_t slot;
  if (r->nfree > 0) {
    slot = r->free[--r->nfree];
  } else {
    if (r->used >= r->len) {
      if (!grow(r)) return REPLAY_FULL; /* out of memory: fail closed */
      c = find(r, hi, lo);
    }
    slot = r->used++;
  }
  if (c == NULL) c = find(r, hi, lo);
  replay_entry_t* e = &r->slots[slot];
  memset(e, 0, sizeof *e);
  e->hi = hi;
  e->lo = lo;
  e->attempt = e->first = attempt;
  e->expires = time_ms + r->window;
  *c = (cell_t){hi, lo, slot + 1, 0};
  r->order[(r->head + r->size) % r->len] = slot;
  r->size++;
  *entry = e;
  return REPLAY_NEW;
}
