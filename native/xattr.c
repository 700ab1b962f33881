/*
 * xattr.node: extended attributes of a path, without following symlinks (llistxattr + lgetxattr).
 * Node has no xattr API; spawning getfattr per batch costs more than the stat walk itself (docs/verify.md).
 * Mechanism only: no decisions here. Errors are returned as a negative errno number; JS classifies them.
 *
 * readAll(path: string) -> null | number | Buffer
 *   path   a "binary string" (one char per byte, latin1; src/util/bpath.ts), so any Linux name passes exactly
 *   null   the path has no extended attributes
 *   number -errno (ENOENT, ENOTSUP, EACCES, ENAMETOOLONG, ...)
 *   Buffer repeated records [u32 nameLen][name bytes][u32 valueLen][value bytes], native byte order,
 *          in the order llistxattr returned the names
 */
#include <node_api.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define MAX_TRIES 8

static napi_value make_int(napi_env env, int value) {
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

/* llistxattr into a malloc'd buffer; returns its length (0 = none) or -errno. Retries when the list grows. */
static ssize_t list_names(const char *path, char **out) {
  *out = NULL;
  for (int i = 0; i < MAX_TRIES; i++) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) return -errno;
    if (size == 0) return 0;
    char *buf = malloc((size_t)size);
    if (buf == NULL) return -ENOMEM;
    ssize_t got = llistxattr(path, buf, (size_t)size);
    if (got >= 0) {
      *out = buf;
      return got;
    }
    int err = errno;
    free(buf);
    if (err != ERANGE) return -err;
  }
  return -ERANGE;
}

/* lgetxattr into a malloc'd buffer; returns the value length or -errno. Retries when the value grows. */
static ssize_t get_value(const char *path, const char *name, char **out) {
  *out = NULL;
  for (int i = 0; i < MAX_TRIES; i++) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) return -errno;
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) return -ENOMEM;
    ssize_t got = lgetxattr(path, name, buf, (size_t)size);
    if (got >= 0) {
      *out = buf;
      return got;
    }
    int err = errno;
    free(buf);
    if (err != ERANGE) return -err;
  }
  return -ERANGE;
}

static int append(char **buf, size_t *len, size_t *cap, const void *data, size_t n) {
  if (*len + n > *cap) {
    size_t next = *cap ? *cap : 256;
    while (next < *len + n) next *= 2;
    char *grown = realloc(*buf, next);
    if (grown == NULL) return -ENOMEM;
    *buf = grown;
    *cap = next;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  return 0;
}

static napi_value read_all(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "readAll(path: string)");
    return NULL;
  }
  char path[PATH_MAX + 1];
  size_t path_len = 0;
  if (napi_get_value_string_latin1(env, argv[0], path, sizeof path, &path_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "readAll: path must be a string");
    return NULL;
  }
  if (path_len >= PATH_MAX) return make_int(env, -ENAMETOOLONG);
  if (memchr(path, '\0', path_len) != NULL) return make_int(env, -EINVAL);

  char *names = NULL;
  ssize_t names_len = list_names(path, &names);
  if (names_len < 0) return make_int(env, (int)names_len);
  if (names_len == 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }

  char *packed = NULL;
  size_t len = 0, cap = 0;
  int failure = 0;
  for (char *name = names; name < names + names_len && failure == 0; name += strlen(name) + 1) {
    char *value = NULL;
    ssize_t value_len = get_value(path, name, &value);
    if (value_len == -ENODATA) continue; /* removed between list and get: it is gone */
    if (value_len < 0) {
      failure = (int)value_len;
      break;
    }
    uint32_t name_len32 = (uint32_t)strlen(name), value_len32 = (uint32_t)value_len;
    if (append(&packed, &len, &cap, &name_len32, 4) || append(&packed, &len, &cap, name, name_len32) ||
        append(&packed, &len, &cap, &value_len32, 4) || append(&packed, &len, &cap, value, value_len32))
      failure = -ENOMEM;
    free(value);
  }
  free(names);
  if (failure != 0) {
    free(packed);
    return make_int(env, failure);
  }
  napi_value result;
  if (len == 0) {
    napi_get_null(env, &result);
  } else {
    napi_create_buffer_copy(env, len, packed, NULL, &result);
  }
  free(packed);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "readAll", NAPI_AUTO_LENGTH, read_all, NULL, &fn);
  napi_set_named_property(env, exports, "readAll", fn);
  return exports;
}
