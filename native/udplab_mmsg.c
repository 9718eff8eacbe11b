/*
 * udplab_mmsg: a batched UDP socket for `udplab server` on Linux (docs/native.md).
 *
 * One non-blocking socket watched by a uv_poll_t on the loop of the calling Node environment.
 * When it is readable, recvmmsg() fills up to BATCH preallocated slots of a JS-owned ArrayBuffer
 * and the JS callback is called once per batch with the count. JS stages the replies in a second
 * ArrayBuffer and calls send(), which hands them to sendmmsg(). Replies that would block (EAGAIN)
 * wait in a bounded queue flushed when the socket is writable; beyond the bound they are dropped
 * and counted, as are replies the kernel refuses. The buffers belong to V8 (kept alive by
 * references while the socket is open), so close() only frees what C allocated.
 *
 * `udplab bench` uses the same socket as a client: connect() ties it to the server, so the kernel
 * delivers only the server's datagrams and reports ICMP errors (port unreachable) to it, and
 * send() can stage datagrams for the connected peer (slot TO_PEER) without an address.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8 /* type tags */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "udplab_aead.h"
#include "udplab_replay.h"
#include "udplab_sealed.h"

#define BATCH 64            /* datagrams per recvmmsg / sendmmsg */
#define SLOT 65536          /* bytes per receive slot: any UDP payload fits (max 65,527) */
#define META 128            /* bytes of metadata per datagram, see the layouts below */
#define TEXT_AT 32          /* the address text starts here inside a metadata entry */
#define ROUNDS 8            /* batches per wake-up at most, so one busy socket cannot starve others */
#define UNWATCH_AT 16       /* a batch this big takes the socket out of epoll while it is answered */
#define TO_PEER (-2)        /* send metadata slot: to the connected peer (connect()), no address */
#define GSO_SEG_V6 1232     /* IPv6 replies up to this size may share a send (IPv6's minimum MTU) */
#define GSO_SEG_V4 548      /* IPv4: 576-byte packets, which every real path carries whole */
#define GSO_RUN 65000       /* bytes of one such send at most (a UDP datagram holds 65,507) */
#define GSO_RUN_V4 1472     /* IPv4 beyond loopback: a run fits a 1,500-byte MTU, see gso_limits() */
#define REFUSED 8           /* destinations remembered for refusing runs (see group()) */
#define REFUSED_MS 10000    /* … for this long after their last refusal */
#define LOAD_SEQ_AT 48      /* sealed load: where a reply's request number goes in its metadata */

_Static_assert(BATCH <= 255, "wire message indexes are uint8_t");

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* Linux ≥ 4.18 */
#endif

/* Receive metadata, int32 view: [0] length [1] family 4|6 [2] port [3] raw IPv4 [4] text length
 * (0 for IPv4 senders: JS formats [3] itself).
 * Send metadata: [0] offset in the send buffer [1] length [2] receive slot of the destination,
 * or -1 when the destination is the text at TEXT_AT [3] port [4] text length, or TO_PEER. */

typedef struct pending_s { /* a reply that would have blocked, waiting for POLLOUT */
  struct pending_s* next;
  struct sockaddr_storage addr;
  socklen_t alen;
  uint32_t len;
  uint8_t data[];
} pending_t;

typedef struct sock_s {
  napi_env env;
  uv_poll_t poll;
  int fd, events, closing, blocked, spurious;
  int unwatched; /* out of epoll until the end of this wake-up (on_poll) */
  napi_ref cb, resource, bufs[4];
  napi_async_context actx;
  uint8_t *rbuf, *rmeta, *sbuf, *smeta;
  size_t sbuf_len;
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  struct sockaddr_storage raddr[BATCH], saddr[BATCH];
  /* What sendmmsg() is given: each wire message carries one reply, or a run of replies of one
   * size to one destination sent as a single UDP GSO send (see group()). */
  struct mmsghdr wmsg[BATCH];
  uint8_t wfirst[BATCH], wcount[BATCH];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(uint16_t))];
  } wctl[BATCH];
  int no_gso; /* the kernel has no UDP_SEGMENT (before 4.18): one reply per message */
  /* Destinations whose path refused a run of `below`-byte replies or bigger (a path MTU under
   * them, IPsec): their replies from that size up go one per message for REFUSED_MS, instead
   * of a failed send per batch. A small table, oldest replaced; nrefused 0 costs nothing. */
  struct {
    struct sockaddr_storage addr;
    socklen_t alen;
    size_t below;
    uint64_t until; /* monotonic ms */
  } refused[REFUSED];
  unsigned nrefused;
  double runs_refused; /* runs the kernel refused (sendCounts()) */
  struct gso_limits { size_t seg, run; } peer_gso; /* for the connected peer (TO_PEER sends) */
  double sends, sent; /* messages sendmmsg() took, and the replies in them (sendCounts()) */
  pending_t *head, *tail; /* FIFO of at most qcap replies */
  uint32_t qcap, qlen;
  double failed; /* replies dropped or refused since JS last asked */
  /* A sealed --quiet server's state (sealedServe()): batches are answered in C, JS not called. */
  sealed_t* sealed;
  napi_ref counts_ref; /* the ArrayBuffer its counters live in */
  /* udplab bench --key-file (sealedLoad()): requests sealed and replies opened here. */
  sealed_load_t* load;
} sock_t;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static int would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS; }

static void on_poll(uv_poll_t* handle, int status, int events);
static void send_ready(sock_t* s, unsigned ready);
static double take_failed(sock_t* s);

static void update_poll(sock_t* s) {
  int want = UV_READABLE | (s->qlen > 0 && !s->blocked ? UV_WRITABLE : 0);
  if (s->closing || s->unwatched || want == s->events) return;
  s->events = want;
  uv_poll_start(&s->poll, want, on_poll);
}

/* Queues a reply that would block; counts it as failed when the queue is full. */
static void enqueue(sock_t* s, const struct sockaddr_storage* a, socklen_t alen, const void* d,
                    uint32_t len) {
  pending_t* p = s->qlen < s->qcap ? malloc(sizeof *p + len) : NULL;
  if (p == NULL) { s->failed++; return; }
  p->next = NULL;
  memcpy(&p->addr, a, alen);
  p->alen = alen;
  p->len = len;
  memcpy(p->data, d, len);
  if (s->tail) s->tail->next = p; else s->head = p;
  s->tail = p;
  s->qlen++;
}

static void dequeue(sock_t* s) {
  pending_t* p = s->head;
  s->head = p->next;
  if (s->head == NULL) s->tail = NULL;
  s->qlen--;
  free(p);
}

/* Sends the queued replies in order until the queue is empty or the socket would block. */
static void flush_queue(sock_t* s) {
  while (s->qlen > 0 && !s->blocked) {
    unsigned n = 0;
    for (pending_t* p = s->head; p != NULL && n < BATCH; p = p->next, n++) {
      s->siov[n] = (struct iovec){p->data, p->len};
      s->smsg[n].msg_hdr = (struct msghdr){.msg_name = &p->addr, .msg_namelen = p->alen,
                                           .msg_iov = &s->siov[n], .msg_iovlen = 1};
    }
    int r = sendmmsg(s->fd, s->smsg, n, 0);
    if (r > 0) { while (r-- > 0) dequeue(s); continue; }
    if (errno == EINTR) continue;
    if (would_block(errno)) break;
    dequeue(s); /* this reply is refused (EMSGSIZE, EPERM…): count it, go on with the next */
    s->failed++;
  }
}

/* Calls the JS batch callback with one number: the datagram count, or -errno. */
static void call_js(sock_t* s, int32_t value) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value cb, resource, arg, result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, s->cb, &cb) == napi_ok &&
      napi_get_reference_value(env, s->resource, &resource) == napi_ok &&
      napi_create_int32(env, value, &arg) == napi_ok &&
      napi_make_callback(env, s->actx, resource, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value err; /* a throw in the callback is an uncaught exception, as in a dgram handler */
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

/* Fills a metadata entry for a sender. The text of an IPv4 address is left out unless asked for:
 * JS caches IPv4 strings by the raw address, so inet_ntop would be wasted on nearly every datagram. */
static void describe(const struct sockaddr_storage* a, uint8_t* meta, int v4_text) {
  int32_t* m = (int32_t*)meta;
  char* text = (char*)meta + TEXT_AT;
  const size_t room = META - TEXT_AT;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in* a4 = (const struct sockaddr_in*)a;
    m[1] = 4;
    m[2] = ntohs(a4->sin_port);
    memcpy(&m[3], &a4->sin_addr, 4);
    if (!v4_text) {
      m[4] = 0;
      return;
    }
    inet_ntop(AF_INET, &a4->sin_addr, text, room);
  } else {
    const struct sockaddr_in6* a6 = (const struct sockaddr_in6*)a;
    m[1] = 6;
    m[2] = ntohs(a6->sin6_port);
    m[3] = 0;
    inet_ntop(AF_INET6, &a6->sin6_addr, text, room);
    /* As Node does: a link-local address carries its interface, fe80::1%eth0. */
    if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr) && a6->sin6_scope_id > 0) {
      size_t len = strlen(text);
      char name[IF_NAMESIZE];
      if (if_indextoname(a6->sin6_scope_id, name) == NULL)
        snprintf(name, sizeof name, "%u", a6->sin6_scope_id);
      snprintf(text + len, room - len, "%%%s", name);
    }
  }
  m[4] = (int32_t)strlen(text);
}

static double wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec * 1000 + (double)(t.tv_nsec / 1000000); /* as Date.now() */
}

/* Answers a received batch in C (a sealed --quiet server): each datagram opened, judged and its
 * reply sealed by udplab_sealed.c, the replies sent as JS's would be (GSO runs, the queue). */
static void answer_sealed(sock_t* s, int n) {
  double now = wall_ms();
  sealed_req_t req[BATCH];
  /* Open the whole batch first: each request's replay cache entry is then loading while the next
   * is decrypted, instead of every lookup waiting for memory in turn. */
  for (int i = 0; i < n; i++)
    sealed_open(s->sealed, s->rbuf + (size_t)i * SLOT, s->rmsg[i].msg_len, &req[i]);
  unsigned ready = 0;
  for (int i = 0; i < n; i++) {
    uint8_t* out = s->sbuf + (size_t)ready * SEALED_REPLY_MAX;
    size_t len = sealed_reply(s->sealed, &req[i], now, out);
    if (len == 0) continue;
    socklen_t alen = s->rmsg[i].msg_hdr.msg_namelen;
    memcpy(&s->saddr[ready], &s->raddr[i], alen);
    s->siov[ready] = (struct iovec){out, len};
    s->smsg[ready].msg_hdr = (struct msghdr){.msg_name = &s->saddr[ready], .msg_namelen = alen,
                                             .msg_iov = &s->siov[ready], .msg_iovlen = 1};
    ready++;
  }
  if (ready > 0) send_ready(s, ready);
  sealed_after_batch(s->sealed, take_failed(s));
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  sock_t* s = handle->data;
  if (status < 0) {
    /* libuv stops a poll handle on POLLERR and reports UV_EBADF. On a connected socket that is
     * an ICMP error (ECONNREFUSED: nothing listens there): read it (which clears it), hand it to
     * JS as the dgram path would, and poll on. A send may have consumed the error first (it then
     * failed and was counted): poll on too, unless POLLERR keeps coming with no error to read. */
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || (err == 0 && ++s->spurious > 16)) {
      call_js(s, status);
      return;
    }
    if (err != 0) call_js(s, -err);
    s->events = 0; /* libuv stopped the handle: make update_poll start it again */
    update_poll(s);
    return;
  }
  s->spurious = 0;
  if (events & UV_WRITABLE) flush_queue(s);
  for (int round = 0; (events & UV_READABLE) && round < ROUNDS && !s->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->riov[i] = (struct iovec){s->rbuf + (size_t)i * SLOT, SLOT};
      s->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &s->raddr[i],
                                           .msg_namelen = sizeof s->raddr[i],
                                           .msg_iov = &s->riov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(s->fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!would_block(errno)) call_js(s, -errno);
      break;
    }
    /* While a socket is in an epoll set, every datagram it sends wakes its wait queue when the
     * kernel frees the datagram (sock_wfree → sock_def_write_space → ep_poll_callback, a lock
     * with interrupts off, per datagram). A big batch means a busy socket: leave epoll for the
     * rest of this wake-up (uv_poll_stop removes the fd at once) and come back in update_poll
     * (one epoll_ctl each way per wake-up, against one wake-up call per reply). Small batches
     * stay: at low rates the two epoll_ctl calls would cost more than they save. */
    if (n >= UNWATCH_AT && !s->unwatched) {
      uv_poll_stop(&s->poll);
      s->events = 0;
      s->unwatched = 1;
    }
    if (s->sealed != NULL) {
      answer_sealed(s, n);
      if (n < BATCH) break;
      continue;
    }
    for (int i = 0; i < n && s->load != NULL; i++) {
      /* Each reply read here: [5] its kind (LOAD_*), the double at LOAD_SEQ_AT the request it names. */
      uint8_t* meta = s->rmeta + (size_t)i * META;
      double seq = 0;
      ((int32_t*)meta)[0] = (int32_t)s->rmsg[i].msg_len;
      ((int32_t*)meta)[5] = sealed_load_match(s->load, s->rbuf + (size_t)i * SLOT, s->rmsg[i].msg_len, &seq);
      memcpy(meta + LOAD_SEQ_AT, &seq, sizeof seq);
    }
    for (int i = 0; i < n && s->load == NULL; i++) {
      uint8_t* meta = s->rmeta + (size_t)i * META;
      ((int32_t*)meta)[0] = (int32_t)s->rmsg[i].msg_len;
      describe(&s->raddr[i], meta, 0);
    }
    call_js(s, n); /* may close the socket: s stays valid until the close callback */
    if (n < BATCH) break; /* the queue is most likely empty: spare the EAGAIN system call */
  }
  s->unwatched = 0;
  update_poll(s);
}

/* Parses the destination written by JS as text (a reply to someone else than a sender). */
static socklen_t parse_dest(const uint8_t* meta, struct sockaddr_storage* out) {
  const int32_t* m = (const int32_t*)meta;
  char text[META];
  size_t len = (size_t)m[4] < META - TEXT_AT ? (size_t)m[4] : META - TEXT_AT - 1;
  memcpy(text, meta + TEXT_AT, len);
  text[len] = '\0';
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(text, m[3], (struct sockaddr_in*)out) == 0) return sizeof(struct sockaddr_in);
  if (uv_ip6_addr(text, m[3], (struct sockaddr_in6*)out) == 0) return sizeof(struct sockaddr_in6);
  return 0;
}

/* Marks socket handles, so that no other external (a key, a replay cache) is taken for one. */
static const napi_type_tag SOCK_TAG = {0x7564706c6162736fULL, 0x636b657420686e64ULL};

static sock_t* unwrap(napi_env env, napi_value v) {
  void* p = NULL;
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &SOCK_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok || p == NULL)
    return NULL;
  sock_t* s = p;
  return s->closing ? NULL : s;
}

static napi_value number(napi_env env, double d) {
  napi_value v;
  CHECK(napi_create_double(env, d, &v));
  return v;
}

static double take_failed(sock_t* s) {
  double f = s->failed;
  s->failed = 0;
  return f;
}

/* How big a reply and a run to `a` may be to share a send.
 *
 * A run's IP header is built once, for the whole run, and IPv4's "don't fragment" flag is set only
 * when the packet fits the route's MTU (IP_PMTUDISC_WANT, the default): a run bigger than that
 * leaves without DF, where each of its datagrams alone would have carried it, and a router with a
 * smaller MTU on the way would fragment them instead of dropping them with an ICMP "need to
 * fragment". So beyond loopback an IPv4 run stays within a 1,500-byte MTU (the DF flags are then
 * those of single sends wherever the route's MTU is 1,500 or more), and its datagrams within 576
 * bytes with headers, which no real path needs to fragment, for the routes with a smaller MTU.
 * Loopback has no router (and a 64 KiB MTU). IPv6 routers never fragment, and 1,280 bytes fit
 * any IPv6 path. */
static struct gso_limits gso_limits(const struct sockaddr* a) {
  const struct sockaddr_in6* a6 = (const struct sockaddr_in6*)a;
  uint32_t v4;
  if (a->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
    return (struct gso_limits){GSO_SEG_V6, GSO_RUN};
  if (a->sa_family == AF_INET6) memcpy(&v4, &a6->sin6_addr.s6_addr[12], 4);
  else v4 = ((const struct sockaddr_in*)a)->sin_addr.s_addr;
  return (struct gso_limits){GSO_SEG_V4, (ntohl(v4) >> 24) == 127 ? GSO_RUN : GSO_RUN_V4};
}

static int same_dest(const struct msghdr* a, const struct msghdr* b) {
  return a->msg_namelen == b->msg_namelen && memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0;
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The size from which h's destination refuses runs, or SIZE_MAX (an expired refusal is none). */
static size_t refused_below(sock_t* s, const struct msghdr* h, uint64_t now) {
  for (unsigned r = 0; r < s->nrefused; r++)
    if (s->refused[r].alen == h->msg_namelen && s->refused[r].until > now &&
        memcmp(&s->refused[r].addr, h->msg_name, h->msg_namelen) == 0)
      return s->refused[r].below;
  return SIZE_MAX;
}

/* Remembers that h's destination refused a run of len-byte replies. */
static void remember_refusal(sock_t* s, const struct msghdr* h, size_t len) {
  uint64_t now = now_ms();
  unsigned at = 0;
  for (unsigned r = 0; r < s->nrefused; r++) {
    if (s->refused[r].alen == h->msg_namelen &&
        memcmp(&s->refused[r].addr, h->msg_name, h->msg_namelen) == 0) {
      if (s->refused[r].until > now && s->refused[r].below < len) len = s->refused[r].below;
      at = r;
      goto found;
    }
    if (s->refused[r].until < s->refused[at].until) at = r; /* the oldest, if none matches */
  }
  if (s->nrefused < REFUSED) at = s->nrefused++;
found:
  memcpy(&s->refused[at].addr, h->msg_name, h->msg_namelen);
  s->refused[at].alen = h->msg_namelen;
  s->refused[at].below = len;
  s->refused[at].until = now + REFUSED_MS;
}

/* Turns the staged replies [from, ready) into wire messages from slot w on; returns the new total.
 * Consecutive replies of the same size to the same destination go out as one UDP GSO send
 * (UDP_SEGMENT): the kernel builds and routes one packet and splits it into the same datagrams,
 * byte for byte, that one send each would give. Under load a client's replies come in runs (a
 * batch of requests from one client), and a run costs the send path once instead of per reply.
 * Replies before `alone` go one per message (a run the kernel refused, sent again). */
static unsigned group(sock_t* s, unsigned w, unsigned from, unsigned ready, unsigned alone) {
  uint64_t now = s->nrefused > 0 ? now_ms() : 0;
  for (unsigned i = from; i < ready; w++) {
    size_t len = s->siov[i].iov_len;
    unsigned k = 1;
    const struct msghdr* first = &s->smsg[i].msg_hdr;
    struct gso_limits max = first->msg_namelen == 0 ? s->peer_gso : gso_limits(first->msg_name);
    if (i >= alone && !s->no_gso && len > 0 && len <= max.seg &&
        (s->nrefused == 0 || len < refused_below(s, first, now)))
      while (i + k < ready && s->siov[i + k].iov_len == len && (k + 1) * len <= max.run &&
             same_dest(first, &s->smsg[i + k].msg_hdr))
        k++;
    struct msghdr h = s->smsg[i].msg_hdr;
    h.msg_iov = &s->siov[i];
    h.msg_iovlen = k;
    if (k > 1) {
      h.msg_control = s->wctl[w].buf;
      h.msg_controllen = sizeof s->wctl[w].buf;
      struct cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = (uint16_t)len;
      memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    s->wmsg[w].msg_hdr = h;
    s->wfirst[w] = (uint8_t)i;
    s->wcount[w] = (uint8_t)k;
    i += k;
  }
  return w;
}

/* send(handle, count): sends the staged replies; returns the replies dropped or refused so far. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 2 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL || napi_get_value_uint32(env, argv[1], &n) != napi_ok || n > BATCH) {
    napi_throw_type_error(env, NULL, "send(handle, count): bad arguments");
    return NULL;
  }
  unsigned ready = 0;
  for (uint32_t k = 0; k < n; k++) {
    const uint8_t* meta = s->smeta + (size_t)k * META;
    const int32_t* m = (const int32_t*)meta;
    if (m[0] < 0 || m[1] < 0 || (size_t)m[0] + (size_t)m[1] > s->sbuf_len) { s->failed++; continue; }
    socklen_t alen;
    if (m[2] == TO_PEER) {
      alen = 0; /* the kernel takes an empty name as "the connected peer" */
    } else if (m[2] >= 0 && m[2] < BATCH) {
      alen = s->rmsg[m[2]].msg_hdr.msg_namelen;
      memcpy(&s->saddr[ready], &s->raddr[m[2]], alen);
    } else if ((alen = parse_dest(meta, &s->saddr[ready])) == 0) {
      s->failed++;
      continue;
    }
    s->siov[ready] = (struct iovec){s->sbuf + m[0], (size_t)m[1]};
    s->smsg[ready].msg_hdr = (struct msghdr){.msg_name = &s->saddr[ready], .msg_namelen = alen,
                                             .msg_iov = &s->siov[ready], .msg_iovlen = 1};
    ready++;
  }
  send_ready(s, ready);
  return number(env, take_failed(s));
}

/* Sends the `ready` replies staged in siov/smsg/saddr: GSO runs, sendmmsg, what would block queued. */
static void send_ready(sock_t* s, unsigned ready) {
  unsigned w = 0, nw = group(s, 0, 0, ready, 0);
  /* Replies keep their order: while older ones wait, new ones queue behind them. */
  while (w < nw && s->qlen == 0 && !s->blocked) {
    int r = sendmmsg(s->fd, &s->wmsg[w], nw - w, 0);
    if (r > 0) {
      s->sends += r;
      for (unsigned end = w + (unsigned)r; w < end; w++) s->sent += s->wcount[w];
    } else if (errno == EINTR) {
      continue;
    } else if (would_block(errno)) {
      break;
    } else if (s->wcount[w] > 1) {
      /* A run failed: the path refused GSO (EMSGSIZE, or EINVAL before Linux 6.14: a path MTU
       * under the segment size; EIO: IPsec), or it would have failed anyway (EINVAL for port 0,
       * EPERM from a firewall…). Either depends on the destination: send this run again one reply
       * per message, so that each reply succeeds or fails as it would alone, keep grouping the
       * others, and remember the destination, so that its next runs of this size or more do not
       * cost a failed send each. */
      s->runs_refused++;
      remember_refusal(s, &s->smsg[s->wfirst[w]].msg_hdr, s->siov[s->wfirst[w]].iov_len);
      nw = group(s, w, s->wfirst[w], ready, s->wfirst[w] + s->wcount[w]);
    } else {
      s->failed++;
      w++;
    }
  }
  for (unsigned i = w < nw ? s->wfirst[w] : ready; i < ready; i++)
    enqueue(s, &s->saddr[i], s->smsg[i].msg_hdr.msg_namelen, s->siov[i].iov_base,
            (uint32_t)s->siov[i].iov_len);
  update_poll(s);
}

/* connect(handle, address, port): ties the socket to one peer (udplab bench); returns 0 or -errno.
 * The address must be of the socket's family. */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char text[META];
  size_t tlen = 0;
  int32_t port = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 3 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL ||
      napi_get_value_string_latin1(env, argv[1], text, sizeof text, &tlen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) {
    napi_throw_type_error(env, NULL, "connect(handle, address, port): bad arguments");
    return NULL;
  }
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t alen = 0;
  if (uv_ip4_addr(text, port, (struct sockaddr_in*)&a) == 0) alen = sizeof(struct sockaddr_in);
  else if (uv_ip6_addr(text, port, (struct sockaddr_in6*)&a) == 0) alen = sizeof(struct sockaddr_in6);
  else return number(env, -EINVAL);
  int r;
  do r = connect(s->fd, (struct sockaddr*)&a, alen); while (r != 0 && errno == EINTR);
  if (r == 0) s->peer_gso = gso_limits((struct sockaddr*)&a);
  return number(env, r == 0 ? 0 : -errno);
}

static void on_closed(uv_handle_t* handle) {
  sock_t* s = handle->data;
  while (s->qlen > 0) dequeue(s);
  sealed_free(s->sealed);
  sealed_load_free(s->load);
  free(s);
}

/* Stops polling, closes the socket, drops what waits; the memory goes in the close callback. */
static double shutdown_sock(sock_t* s, int with_js) {
  double dropped = take_failed(s) + s->qlen;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  close(s->fd);
  if (with_js) {
    napi_delete_reference(s->env, s->cb);
    napi_delete_reference(s->env, s->resource);
    for (int i = 0; i < 4; i++) napi_delete_reference(s->env, s->bufs[i]);
    if (s->counts_ref != NULL) napi_delete_reference(s->env, s->counts_ref);
    napi_async_destroy(s->env, s->actx);
  }
  uv_close((uv_handle_t*)&s->poll, on_closed);
  return dropped;
}

/* The environment is going away with the socket still open (a worker ended, say). */
static void cleanup_hook(void* arg) { shutdown_sock(arg, 0); }

/* close(handle): returns the replies dropped or refused since the last send (queued ones included). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 1 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL) {
    napi_throw_error(env, NULL, "close(handle): not an open socket");
    return NULL;
  }
  napi_remove_env_cleanup_hook(env, cleanup_hook, s);
  return number(env, shutdown_sock(s, 1));
}

/* setBlocked(handle, bool): fault injection for tests: while true, every send would block. */
static napi_value js_set_blocked(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool blocked = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 2 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL || napi_get_value_bool(env, argv[1], &blocked) != napi_ok) {
    napi_throw_type_error(env, NULL, "setBlocked(handle, bool): bad arguments");
    return NULL;
  }
  s->blocked = blocked;
  update_poll(s);
  return NULL;
}

/* sendCounts(handle): [messages, replies] that send() has handed to the kernel (GSO groups runs),
 * and the runs the kernel refused (sent again one reply per message). */
static napi_value js_send_counts(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 1 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL) {
    napi_throw_error(env, NULL, "sendCounts(handle): not an open socket");
    return NULL;
  }
  CHECK(napi_create_array_with_length(env, 3, &out));
  CHECK(napi_set_element(env, out, 0, number(env, s->sends)));
  CHECK(napi_set_element(env, out, 1, number(env, s->sent)));
  CHECK(napi_set_element(env, out, 2, number(env, s->runs_refused)));
  return out;
}

/* address(handle): [address, port] as bound. */
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 1 ? unwrap(env, argv[0]) : NULL;
  struct sockaddr_storage a;
  socklen_t alen = sizeof a;
  uint8_t meta[META];
  if (s == NULL || getsockname(s->fd, (struct sockaddr*)&a, &alen) != 0) {
    napi_throw_error(env, NULL, "address(handle): not an open socket");
    return NULL;
  }
  describe(&a, meta, 1);
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_string_latin1(env, (char*)meta + TEXT_AT, ((int32_t*)meta)[4], &v));
  CHECK(napi_set_element(env, out, 0, v));
  CHECK(napi_set_element(env, out, 1, number(env, ((int32_t*)meta)[2])));
  return out;
}

static int buffer_of(napi_env env, napi_value v, uint8_t** data, size_t* len, size_t min) {
  void* p = NULL;
  if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok || *len < min) return 0;
  *data = p;
  return 1;
}

/* The 32 bytes of a key's secret (a Uint8Array argument); 0 when it is not one. */
static int secret_of(napi_env env, napi_value v, uint8_t** secret) {
  napi_typedarray_type type;
  napi_value ab;
  size_t len = 0, offset = 0;
  return napi_get_typedarray_info(env, v, &type, &len, (void**)secret, &ab, &offset) == napi_ok &&
         type == napi_uint8_array && len == 32;
}

/* sealedServe(handle, secret, windowMs, capacity, notBeforeMs, counts): from now on the socket
 * answers sealed requests in C (udplab_sealed.c) and calls JS only for errors; counts (an
 * ArrayBuffer of SC_COUNT doubles, zeroed) keeps the counters. Returns false when this process has
 * no OpenSSL for it (JS answers then). For an unconnected socket only. */
static napi_value js_sealed_serve(napi_env env, napi_callback_info info) {
  size_t argc = 6, clen = 0;
  napi_value argv[6];
  double window = 0, not_before = 0, cap = 0;
  uint8_t *secret = NULL, *counts = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 6 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL || s->sealed != NULL || s->load != NULL || !secret_of(env, argv[1], &secret) ||
      napi_get_value_double(env, argv[2], &window) != napi_ok || !(window > 0 && isfinite(window)) ||
      napi_get_value_double(env, argv[3], &cap) != napi_ok ||
      !(cap >= 1 && cap <= REPLAY_MAX_CAPACITY) ||
      cap != (uint32_t)cap ||
      napi_get_value_double(env, argv[4], &not_before) != napi_ok ||
      !buffer_of(env, argv[5], &counts, &clen, SC_COUNT * sizeof(double)) ||
      (uintptr_t)counts % sizeof(double) != 0) {
    napi_throw_type_error(env, NULL, "sealedServe(): bad arguments");
    return NULL;
  }
  _Static_assert(BATCH * SEALED_REPLY_MAX <= SLOT, "a batch of sealed replies fits the send buffer");
  /* counts stays valid while the reference holds it: the ArrayBuffer is ServerCore's own and is
   * never transferred (which would detach it). */
  sealed_t* sealed = sealed_new(secret, window, (uint32_t)cap, not_before, (double*)counts);
  napi_value result;
  if (sealed == NULL) {
    CHECK(napi_get_boolean(env, false, &result));
    return result;
  }
  if (napi_create_reference(env, argv[5], 1, &s->counts_ref) != napi_ok) {
    sealed_free(sealed);
    return NULL;
  }
  s->sealed = sealed;
  CHECK(napi_get_boolean(env, true, &result));
  return result;
}

/* open(family, address, port, queueLimit, recv, recvMeta, send, sendMeta, onBatch):
 * binds a socket and starts receiving; returns the handle, or -errno when socket/bind fail. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9], name, handle;
  int32_t family = 0, port = 0;
  uint32_t qcap = 0;
  char text[META];
  size_t tlen = 0, len = 0;
  uv_loop_t* loop = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = calloc(1, sizeof *s);
  if (s == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  napi_valuetype cbtype = napi_undefined;
  if (argc != 9 || napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      napi_get_value_string_latin1(env, argv[1], text, sizeof text, &tlen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535 ||
      napi_get_value_uint32(env, argv[3], &qcap) != napi_ok || qcap < 1 ||
      !buffer_of(env, argv[4], &s->rbuf, &len, (size_t)BATCH * SLOT) ||
      !buffer_of(env, argv[5], &s->rmeta, &len, (size_t)BATCH * META) ||
      !buffer_of(env, argv[6], &s->sbuf, &s->sbuf_len, SLOT) ||
      !buffer_of(env, argv[7], &s->smeta, &len, (size_t)BATCH * META) ||
      napi_typeof(env, argv[8], &cbtype) != napi_ok || cbtype != napi_function ||
      napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free(s);
    napi_throw_type_error(env, NULL, "open(): bad arguments");
    return NULL;
  }
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  int err = family == 6 ? uv_ip6_addr(text, port, (struct sockaddr_in6*)&a)
                        : uv_ip4_addr(text, port, (struct sockaddr_in*)&a);
  int fd = err ? -1 : socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (err == 0 && fd < 0) err = -errno;
  if (err == 0 && bind(fd, (struct sockaddr*)&a, family == 6 ? sizeof(struct sockaddr_in6)
                                                              : sizeof(struct sockaddr_in)) != 0)
    err = -errno;
  if (err == 0) err = uv_poll_init_socket(loop, &s->poll, fd);
  if (err != 0) {
    if (fd >= 0) close(fd);
    free(s);
    return number(env, err < 0 ? err : -EINVAL);
  }
  s->env = env;
  s->fd = fd;
  s->qcap = qcap;
  /* A kernel without UDP GSO (before 4.18) would not refuse the control message: it would skip it
   * and send a run as one long datagram. Such a kernel has no UDP_SEGMENT option either. */
  int segment = 0;
  socklen_t slen = sizeof segment;
  s->no_gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &slen) != 0;
  s->poll.data = s;
  napi_value resource;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "udplab:mmsg", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &s->actx));
  CHECK(napi_create_reference(env, resource, 1, &s->resource));
  CHECK(napi_create_reference(env, argv[8], 1, &s->cb));
  for (int i = 0; i < 4; i++) CHECK(napi_create_reference(env, argv[4 + i], 1, &s->bufs[i]));
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, s));
  CHECK(napi_create_external(env, s, NULL, NULL, &handle));
  CHECK(napi_type_tag_object(env, handle, &SOCK_TAG));
  s->events = UV_READABLE;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  return handle;
}

/* sealedLoad(handle, secret, baseHi, baseLo, size): udplab bench --key-file on a connected socket:
 * from now on replies are opened and matched here (their kind and request number in the receive
 * metadata) and sendSealed() seals the requests. False when this process has no OpenSSL for it. */
static napi_value js_sealed_load(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  uint32_t hi = 0, lo = 0, size = 0;
  uint8_t* secret = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 5 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL || s->load != NULL || s->sealed != NULL || !secret_of(env, argv[1], &secret) ||
      napi_get_value_uint32(env, argv[2], &hi) != napi_ok ||
      hi >= (1u << 30) || napi_get_value_uint32(env, argv[3], &lo) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &size) != napi_ok || size > 65507 - 49) {
    napi_throw_type_error(env, NULL, "sealedLoad(): bad arguments");
    return NULL;
  }
  s->load = sealed_load_new(secret, hi, lo, size);
  CHECK(napi_get_boolean(env, s->load != NULL, &result));
  return result;
}

/* sendSealed(handle, firstSeq, count): seals requests firstSeq … firstSeq + count − 1 (sealedLoad())
 * and sends them to the connected peer, as many per sendmmsg as the send buffer holds; returns
 * the requests dropped or refused so far, as send() does. */
static napi_value js_send_sealed(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  double seq = 0;
  double n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t* s = argc == 3 ? unwrap(env, argv[0]) : NULL;
  if (s == NULL || s->load == NULL || napi_get_value_double(env, argv[1], &seq) != napi_ok ||
      napi_get_value_double(env, argv[2], &n) != napi_ok || !(seq >= 1 && n >= 0) ||
      seq != floor(seq) || n != floor(n) || n > UINT32_MAX ||
      seq + n - 1 > 9007199254740991.0) {
    napi_throw_type_error(env, NULL, "sendSealed(handle, firstSeq, count): bad arguments");
    return NULL;
  }
  uint32_t count = (uint32_t)n;
  double now = wall_ms();
  while (count > 0) {
    unsigned ready = 0;
    size_t off = 0;
    while (count > 0 && ready < BATCH && off + SLOT <= s->sbuf_len) {
      size_t len = sealed_load_request(s->load, seq++, now, s->sbuf + off);
      count--;
      if (len == 0) {
        s->failed++;
        continue;
      }
      s->siov[ready] = (struct iovec){s->sbuf + off, len};
      s->smsg[ready].msg_hdr = (struct msghdr){.msg_name = &s->saddr[ready], .msg_namelen = 0,
                                               .msg_iov = &s->siov[ready], .msg_iovlen = 1};
      ready++;
      off += len;
    }
    if (ready > 0) send_ready(s, ready);
  }
  return number(env, take_failed(s));
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"address", NULL, js_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setBlocked", NULL, js_set_blocked, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendCounts", NULL, js_send_counts, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealedServe", NULL, js_sealed_serve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealedLoad", NULL, js_sealed_load, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendSealed", NULL, js_send_sealed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"LOAD_SEQ_AT", NULL, NULL, NULL, NULL, number(env, LOAD_SEQ_AT), napi_enumerable, NULL},
      {"BATCH", NULL, NULL, NULL, NULL, number(env, BATCH), napi_enumerable, NULL},
      {"SLOT", NULL, NULL, NULL, NULL, number(env, SLOT), napi_enumerable, NULL},
      {"META", NULL, NULL, NULL, NULL, number(env, META), napi_enumerable, NULL},
      {"TEXT_AT", NULL, NULL, NULL, NULL, number(env, TEXT_AT), napi_enumerable, NULL},
      {"TO_PEER", NULL, NULL, NULL, NULL, number(env, TO_PEER), napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  CHECK(aead_register(env, exports));
  CHECK(sealed_register(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
