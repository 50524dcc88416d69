// gsup's native helper: the two system calls Node 20 does not offer.
//   notify(address, message): one AF_UNIX SOCK_DGRAM datagram, sent from this process (systemd's
//     NotifyAccess=main checks the sender's pid, so a helper process cannot send for gsup).
//   reap(pid): waitpid(pid, WNOHANG) on one pid, for PID 1 in a container. Never waitpid(-1):
//     that would steal the exit statuses of the children libuv is waiting for.
// Plain C on Node-API (node_api.h ships with Node), so it builds with node-gyp and no package.

#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, int err, const char *what) {
  napi_value code, msg, error;
  const char *name = strerror(err);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &msg);
  napi_create_int32(env, err, &code);
  napi_create_error(env, NULL, msg, &error);
  napi_set_named_property(env, error, "errno", code);
  napi_value text;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &text);
  napi_set_named_property(env, error, "reason", text);
  napi_throw(env, error);
  return NULL;
}

// notify(address: string, message: string): sends one datagram; `@name` is an abstract address.
// Never blocks: a receiver whose queue is full gets EAGAIN, thrown like any other error.
static napi_value Notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "notify(address, message)");
    return NULL;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char address[sizeof sa.sun_path + 2];
  size_t alen = 0;
  if (napi_get_value_string_utf8(env, argv[0], address, sizeof address, &alen) != napi_ok) {
    napi_throw_type_error(env, NULL, "notify: the address must be a string");
    return NULL;
  }
  if (alen < 2 || alen > sizeof sa.sun_path) return throw_errno(env, EINVAL, "notify: bad address");
  memcpy(sa.sun_path, address, alen);
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen);
  if (address[0] == '@') sa.sun_path[0] = '\0';
  else if (address[0] != '/') return throw_errno(env, EINVAL, "notify: bad address");

  size_t mlen = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &mlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "notify: the message must be a string");
    return NULL;
  }
  char *message = malloc(mlen + 1);
  if (!message) return throw_errno(env, ENOMEM, "notify");
  napi_get_value_string_utf8(env, argv[1], message, mlen + 1, &mlen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    free(message);
    return throw_errno(env, err, "socket");
  }
  ssize_t sent;
  do {
    sent = sendto(fd, message, mlen, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  } while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  free(message);
  if (sent < 0) return throw_errno(env, err, "sendto");
  return NULL;
}

// reap(pid: number): waitpid(pid, WNOHANG). Returns pid when it reaped it, 0 when it still runs,
// and -errno (e.g. -ECHILD: not our child) otherwise.
static napi_value Reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t pid = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid) needs a pid above 0");
    return NULL;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid((pid_t)pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  napi_value out;
  napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &out);
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"notify", NULL, Notify, NULL, NULL, NULL, napi_default, NULL},
      {"reap", NULL, Reap, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
