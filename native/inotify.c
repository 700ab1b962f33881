/*
 * Raw inotify for Node (Node-API addon). Mechanism only: no decisions, no paths, no policy.
 *
 *   init()                  -> fd            inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
 *   addWatch(fd, path, mask)-> wd            path is a Buffer (exact bytes, no NUL); throws {code: 'ENOSPC'...}
 *   rmWatch(fd, wd)         -> undefined     throws {code} (EINVAL when the watch is already gone)
 *   watch(fd, cb)           -> handle        libuv poll on fd; when readable, reads until EAGAIN (capped per
 *                                            call) and calls cb(null, Buffer of raw struct inotify_event
 *                                            records) or cb('EXXX', null) on a poll/read error
 *   unwatch(handle)         -> undefined     stops the poll; cb is never called again
 *   drain(fd)               -> Buffer        synchronous read until EAGAIN (possibly empty)
 *   close(fd)               -> undefined
 *
 * Records are parsed in TypeScript (src/watch/inotify-events.ts). Errors carry the errno name as `code`.
 * Why uv.h: uv_poll_t is the only way to be told about readability on libuv's own loop (no thread).
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* One read(2) needs room for at least one event with a 255-byte name; 64 KiB holds ~1,000 typical events. */
#define READ_CHUNK (64 * 1024)
/* The watch callback hands over at most this much per call, so a writer that never stops cannot starve the
 * loop; the poll is level-triggered and fires again for the rest. */
#define MAX_BYTES_PER_CALLBACK (4 * 1024 * 1024)

#define CHECK(call)                                                                                            \
  do {                                                                                                         \
    if ((call) != napi_ok) {                                                                                   \
      napi_throw_error(env, "E_NAPI", "Node-API call failed: " #call);                                        \
      return NULL;                                                                                             \
    }                                                                                                          \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *syscall) {
  const char *name = strerrorname_np(err);
  char message[160];
  snprintf(message, sizeof message, "%s: %s", syscall, strerror(err));
  napi_value code, msg, error, errnum, sc;
  if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return NULL;
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = make_errno_error(env, err, syscall);
  if (error) napi_throw(env, error);
  return NULL;
}

static int get_int_arg(napi_env env, napi_value value, int32_t *out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

/* Reads until EAGAIN or `cap` bytes. Returns 0 or an errno; *out is malloc'ed (caller frees) or NULL. */
static int read_events(int fd, size_t cap, char **out, size_t *out_len) {
  size_t size = 0, len = 0;
  char *buf = NULL;
  *out = NULL;
  *out_len = 0;
  for (;;) {
    if (size - len < READ_CHUNK) {
      size_t next = size ? size * 2 : READ_CHUNK * 2;
      char *grown = realloc(buf, next);
      if (!grown) {
        free(buf);
        return ENOMEM;
      }
      buf = grown;
      size = next;
    }
    ssize_t n = read(fd, buf + len, size - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      int err = errno;
      free(buf);
      return err;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len >= cap) break;
  }
  if (len == 0) {
    free(buf);
    return 0;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "inotify_init1");
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static napi_value js_add_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, mask;
  void *data;
  size_t length;
  bool is_buffer = false;
  if (argc < 3 || !get_int_arg(env, argv[0], &fd) || !get_int_arg(env, argv[2], &mask) ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, "E_ARGS", "addWatch(fd: number, path: Buffer, mask: number)");
    return NULL;
  }
  CHECK(napi_get_buffer_info(env, argv[1], &data, &length));
  if (length == 0 || length >= 4096 || memchr(data, 0, length)) return throw_errno(env, EINVAL, "inotify_add_watch");
  char path[4096];
  memcpy(path, data, length);
  path[length] = '\0';
  int wd = inotify_add_watch(fd, path, (uint32_t)mask);
  if (wd < 0) return throw_errno(env, errno, "inotify_add_watch");
  napi_value result;
  CHECK(napi_create_int32(env, wd, &result));
  return result;
}

static napi_value js_rm_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, wd;
  if (argc < 2 || !get_int_arg(env, argv[0], &fd) || !get_int_arg(env, argv[1], &wd)) {
    napi_throw_type_error(env, "E_ARGS", "rmWatch(fd: number, wd: number)");
    return NULL;
  }
  if (inotify_rm_watch(fd, wd) < 0) return throw_errno(env, errno, "inotify_rm_watch");
  return NULL;
}

static napi_value js_drain(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int_arg(env, argv[0], &fd)) {
    napi_throw_type_error(env, "E_ARGS", "drain(fd: number)");
    return NULL;
  }
  char *buf;
  size_t len;
  int err = read_events(fd, (size_t)-1, &buf, &len);
  if (err) return throw_errno(env, err, "read");
  napi_value result;
  napi_status status = napi_create_buffer_copy(env, len, len ? buf : "", NULL, &result);
  free(buf);
  CHECK(status);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int_arg(env, argv[0], &fd)) {
    napi_throw_type_error(env, "E_ARGS", "close(fd: number)");
    return NULL;
  }
  if (close(fd) < 0) return throw_errno(env, errno, "close");
  return NULL;
}

/* ---- the libuv read loop ---- */

/* Owned twice: by the JS external (freed by its GC finalizer) and by the libuv handle (freed on close). */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int fd;
  int stopped;
  int owners;
} watch_t;

static void release(watch_t *w) {
  if (--w->owners == 0) free(w);
}

static void on_close(uv_handle_t *handle) { release(handle->data); }

static void on_external_gc(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
}

static void stop_watch(watch_t *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_close);
}

/* Environment teardown (process exit, worker end) with a watch still running: stop the poll. */
static void on_env_cleanup(void *arg) {
  watch_t *w = arg;
  if (!w->stopped) {
    w->stopped = 1;
    uv_poll_stop(&w->poll);
  }
}

static void call_back(watch_t *w, napi_value err, napi_value buffer) {
  napi_env env = w->env;
  napi_value cb, recv, argv[2] = {err, buffer};
  if (napi_get_reference_value(env, w->callback, &cb) != napi_ok || cb == NULL) return;
  if (napi_get_global(env, &recv) != napi_ok) return;
  napi_status status = napi_make_callback(env, w->context, recv, cb, 2, argv, NULL);
  if (status == napi_pending_exception) {
    napi_value exception;
    if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  watch_t *w = handle->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value null_value, err_value, buffer;
  napi_get_null(env, &null_value);
  if (status < 0) {
    napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &err_value);
    call_back(w, err_value, null_value);
  } else {
    char *buf;
    size_t len;
    int err = read_events(w->fd, MAX_BYTES_PER_CALLBACK, &buf, &len);
    if (err) {
      const char *name = strerrorname_np(err);
      napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &err_value);
      call_back(w, err_value, null_value);
    } else if (len > 0) {
      napi_status st = napi_create_buffer_copy(env, len, buf, NULL, &buffer);
      free(buf);
      if (st == napi_ok) call_back(w, null_value, buffer);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  napi_valuetype type = napi_undefined;
  if (argc < 2 || !get_int_arg(env, argv[0], &fd) || napi_typeof(env, argv[1], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, "E_ARGS", "watch(fd: number, callback: function)");
    return NULL;
  }
  struct uv_loop_s *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watch");
  w->env = env;
  w->fd = fd;
  w->owners = 1; /* the libuv handle; the external takes the second share below */
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "livesync:inotify", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_reference(env, argv[1], 1, &w->callback));
  CHECK(napi_async_init(env, NULL, name, &w->context));
  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->context);
    w->stopped = 1;
    uv_close((uv_handle_t *)&w->poll, on_close);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  CHECK(napi_add_env_cleanup_hook(env, on_env_cleanup, w));
  napi_value handle;
  CHECK(napi_create_external(env, w, on_external_gc, NULL, &handle));
  w->owners++;
  return handle;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external) {
    napi_throw_type_error(env, "E_ARGS", "unwatch(handle)");
    return NULL;
  }
  watch_t *w;
  CHECK(napi_get_value_external(env, argv[0], (void **)&w));
  if (w->callback == NULL) return NULL; /* already unwatched */
  napi_remove_env_cleanup_hook(env, on_env_cleanup, w);
  napi_delete_reference(env, w->callback);
  w->callback = NULL;
  napi_async_destroy(env, w->context);
  stop_watch(w);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addWatch", NULL, js_add_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmWatch", NULL, js_rm_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drain", NULL, js_drain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
