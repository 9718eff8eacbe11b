/* ChaCha20-Poly1305 through the OpenSSL of the running Node (udplab_aead.c). */
#ifndef UDPLAB_AEAD_H
#define UDPLAB_AEAD_H
#include <node_api.h>

/* Adds aeadKey, aeadSeal, aeadOpen and aeadPath ("primitives" or "evp", udplab_aead.c) to exports
 * when this process has OpenSSL; else nothing. */
napi_status aead_register(napi_env env, napi_value exports);

#endif
