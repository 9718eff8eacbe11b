{
  "targets": [
    {
      "target_name": "udplab_mmsg",
      "sources": ["udplab_mmsg.c", "udplab_aead.c", "udplab_replay.c", "udplab_sealed.c"],
      "libraries": ["-ldl", "-lpthread"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
