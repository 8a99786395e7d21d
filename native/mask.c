/*
 * Secure-aggregation mask kernel: expands AES-256-CTR keystreams with OpenSSL's EVP interface (the
 * OpenSSL inside Node.js, whose symbols the node binary exports; no cipher of our own) straight into a
 * cache-sized scratch block and adds or subtracts them word by word mod 2^32 into a target range. The
 * same words as shared/src/secagg/mask.ts's applyMasks, without Node's per-call output allocation and copy.
 *
 * maskRange(target: Uint32Array, lo: number, hi: number, seeds: Uint8Array (32 bytes each), signs: Int8Array)
 *   for every seed s: target[lo..hi) ±= AES-256-CTR(seed_s, counter = lo / 4)[lo..hi), lo a multiple of 4.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_WORDS 16384 /* 64 KiB of keystream per seed per step */

static napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, "TESSERA_SECAGG_NATIVE", msg);
  return NULL;
}

static napi_value mask_range(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return fail(env, "maskRange takes 5 arguments");
  napi_typedarray_type type;
  size_t length, seeds_len, signs_len, offset;
  void* data;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint32_array) return fail(env, "target must be a Uint32Array");
  int64_t lo, hi;
  if (napi_get_value_int64(env, argv[1], &lo) != napi_ok || napi_get_value_int64(env, argv[2], &hi) != napi_ok) return fail(env, "lo and hi must be numbers");
  if (lo < 0 || hi < lo || (uint64_t)hi > length || lo % 4 != 0) return fail(env, "range out of bounds or lo not a multiple of 4");
  void* seeds;
  void* signs;
  if (napi_get_typedarray_info(env, argv[3], &type, &seeds_len, &seeds, &ab, &offset) != napi_ok || type != napi_uint8_array) return fail(env, "seeds must be a Uint8Array");
  if (napi_get_typedarray_info(env, argv[4], &type, &signs_len, &signs, &ab, &offset) != napi_ok || type != napi_int8_array) return fail(env, "signs must be an Int8Array");
  if (seeds_len != signs_len * 32) return fail(env, "seeds must hold 32 bytes per sign");
  uint32_t* target = (uint32_t*)data;
  const uint8_t* seed_bytes = (const uint8_t*)seeds;
  const int8_t* sign_values = (const int8_t*)signs;
  size_t m = signs_len;
  EVP_CIPHER_CTX** ctx = calloc(m ? m : 1, sizeof(EVP_CIPHER_CTX*));
  uint32_t* ks = malloc(CHUNK_WORDS * sizeof(uint32_t));
  static const uint8_t zero[CHUNK_WORDS * 4];
  int ok = ctx != NULL && ks != NULL;
  uint8_t iv[16];
  memset(iv, 0, sizeof iv);
  uint64_t block = (uint64_t)lo / 4; /* 16-byte blocks before the range: big-endian 128-bit counter */
  for (int b = 15; b >= 8; b--) { iv[b] = (uint8_t)(block & 0xff); block >>= 8; }
  for (size_t s = 0; ok && s < m; s++) {
    ctx[s] = EVP_CIPHER_CTX_new();
    ok = ctx[s] != NULL && EVP_EncryptInit_ex(ctx[s], EVP_aes_256_ctr(), NULL, seed_bytes + 32 * s, iv) == 1;
  }
  for (int64_t start = lo; ok && start < hi; start += CHUNK_WORDS) {
    int64_t n = hi - start < CHUNK_WORDS ? hi - start : CHUNK_WORDS;
    uint32_t* t = target + start;
    for (size_t s = 0; ok && s < m; s++) {
      int out = 0;
      ok = EVP_EncryptUpdate(ctx[s], (uint8_t*)ks, &out, zero, (int)(n * 4)) == 1 && out == n * 4;
      if (!ok) break;
      if (sign_values[s] > 0) {
        for (int64_t i = 0; i < n; i++) t[i] += ks[i];
      } else {
        for (int64_t i = 0; i < n; i++) t[i] -= ks[i];
      }
    }
  }
  for (size_t s = 0; ctx && s < m; s++) EVP_CIPHER_CTX_free(ctx[s]);
  free(ctx);
  free(ks);
  if (!ok) return fail(env, "OpenSSL AES-256-CTR failed");
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "maskRange", NAPI_AUTO_LENGTH, mask_range, NULL, &fn);
  napi_set_named_property(env, exports, "maskRange", fn);
  return exports;
}
