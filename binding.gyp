{
  "targets": [
    {
      "target_name": "tessera_mask",
      "sources": ["native/mask.c"],
      "cflags": ["-O3", "-std=c11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
