/**
 * Root and mount-namespace guards for tests. scripts/run-tests.ts runs the suite inside
 * `unshare --mount --propagation private` as root; these helpers refuse to mount anything in the host's
 * namespace and give a printed reason when a root-only test must skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { inPrivateMountNs } from '../../src/sys/mount-ns.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why a root-only test cannot run here, or undefined when it can. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount namespaces, tmpfs mounts): run the suite as root';
  if (!inPrivateMountNs()) return 'not in a private mount namespace: run through `npm test`, which uses unshare';
  return undefined;
}

export { inPrivateMountNs };

function assertPrivate(): void {
  if (!inPrivateMountNs()) throw new Error('refusing to mount in the host mount namespace');
}

/** A fresh temp dir with a tmpfs mounted on it (private namespace only). Dispose to unmount and remove. */
export function tmpfsDir(prefix: string, size = '512m', mode = '755'): { path: string } & Disposable {
  assertPrivate();
  const path = mkdtempSync(join(tmpdir(), `livesync-${prefix}-`));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=${mode}`, 'tmpfs', path]);
  return {
    path,
    [Symbol.dispose]() {
      try {
        execFileSync('umount', ['-l', path], { stdio: 'ignore' });
      } catch {
        // already unmounted by the test
      }
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export function makeDirs(...paths: string[]): void {
  for (const p of paths) mkdirSync(p, { recursive: true });
}
