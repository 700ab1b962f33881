/*
 * pin-exec DEV INO TARGET PROGRAM [ARG...]
 *
 * Runs PROGRAM (rsync) in a private copy of the caller's mount namespace in which TARGET is the filesystem
 * root DEV:INO, or not at all. Mechanism only (src/sys/pin-exec.ts builds the argv; src/sync/rsync-exit.ts
 * says what each exit code means):
 *   1. unshare(CLONE_NEWNS), then make every mount private: from here on no mount or unmount made outside
 *      (an operator's `umount -l TARGET`) changes what TARGET is for this process and its children
 *   2. stat(TARGET) in that copy: not DEV:INO (the share was already gone, or something else is mounted
 *      there) -> exit 121, nothing run
 *   3. execvp(PROGRAM, ARGS)
 * Exit codes of its own: 120 the namespace could not be made (not root?), 121 TARGET is not DEV:INO,
 * 122 usage, 127 PROGRAM could not be executed. Otherwise PROGRAM's own.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return -1;
  *out = (uint64_t)v;
  return 0;
}

int main(int argc, char **argv) {
  uint64_t dev, ino;
  if (argc < 5 || parse_u64(argv[1], &dev) != 0 || parse_u64(argv[2], &ino) != 0) {
    fprintf(stderr, "usage: pin-exec DEV INO TARGET PROGRAM [ARG...]\n");
    return 122;
  }
  const char *target = argv[3];
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr, "livesync pin-exec: unshare(CLONE_NEWNS): %s\n", strerror(errno));
    return 120;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    fprintf(stderr, "livesync pin-exec: making the mounts private: %s\n", strerror(errno));
    return 120;
  }
  struct stat st;
  if (stat(target, &st) != 0) {
    fprintf(stderr, "livesync pin-exec: target \"%s\": %s\n", target, strerror(errno));
    return 121;
  }
  if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
    fprintf(stderr, "livesync pin-exec: target \"%s\" is device %" PRIu64 " inode %" PRIu64 ", not the recorded %" PRIu64 " %" PRIu64 "\n", target,
            (uint64_t)st.st_dev, (uint64_t)st.st_ino, dev, ino);
    return 121;
  }
  execvp(argv[4], &argv[4]);
  fprintf(stderr, "livesync pin-exec: cannot execute %s: %s\n", argv[4], strerror(errno));
  return 127;
}
