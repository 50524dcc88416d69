{
  "targets": [
    {
      "target_name": "gsup_native",
      "sources": ["native/gsup_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
