/* ChaCha20-Poly1305 through the OpenSSL of the running Node (udplab_aead.c). */
#ifndef UDPLAB_AEAD_H
#define UDPLAB_AEAD_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* A ChaCha20-Poly1305 key set up for sealing and opening datagrams. */
typedef struct aead_key_s aead_key_t;

/* Adds aeadKey, aeadSeal, aeadOpen and aeadPath ("primitives" or "evp", udplab_aead.c) to exports
 * when this process has OpenSSL; else nothing. */
napi_status aead_register(napi_env env, napi_value exports);

/* For C callers (udplab_sealed.c): a key from 32 secret bytes (NULL without OpenSSL), freed with
 * aead_key_free; seal and open as aeadSeal and aeadOpen (datagram layout: header 3 ‖ nonce 12 ‖
 * text ‖ tag 16), 1 on success. */
aead_key_t* aead_key_new(const uint8_t* secret);
void aead_key_free(aead_key_t* k);
int aead_seal_datagram(aead_key_t* k, uint8_t* d, size_t len);
int aead_open_datagram(aead_key_t* k, const uint8_t* d, size_t len, uint8_t* out);

#endif
