{
  "targets": [
    {
      "target_name": "softnet",
      "sources": ["native/addon.cc", "native/umem_xsk.cc", "native/bpf.cc", "native/tap.cc", "native/gen.cc", "native/prog.cc", "native/link.cc", "native/dev.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wno-missing-field-initializers"]
    }
  ]
}
