{
  "targets": [
    {
      "target_name": "softnet",
      "sources": ["native/addon.cc", "native/umem_xsk.cc", "native/bpf.cc", "native/tap.cc", "native/gen.cc", "native/link.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wno-missing-field-initializers"]
    }
  ]
}
