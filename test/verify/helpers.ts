/**
 * Helpers for the verify tests: a source/target workspace (tmpfs in the suite's private mount namespace,
 * else a temp dir), an exact copy with rsync (`--modify-window=-1`: ns mtimes, else rsync skips directory and
 * symlink times that fall in the same second), and a verify with a short re-check delay.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyTrees } from '../../src/verify/verify.ts';
import type { Difference, VerifyOptions, VerifyReport } from '../../src/verify/types.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';

export interface Workspace extends Disposable {
  root: string;
  src: string;
  dst: string;
}

export function workspace(prefix: string): Workspace {
  const mounted = rootSkipReason() === undefined ? tmpfsDir(`verify-${prefix}`, '256m') : undefined;
  const root = mounted?.path ?? mkdtempSync(join(tmpdir(), `livesync-verify-${prefix}-`));
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  mkdirSync(src);
  return {
    root,
    src,
    dst,
    [Symbol.dispose]() {
      if (mounted) mounted[Symbol.dispose]();
      else rmSync(root, { recursive: true, force: true });
    },
  };
}

/** An exact copy: contents, modes, owners, ns mtimes, hard links, ACLs, xattrs, devices. */
export function copyTree(src: string, dst: string): void {
  execFileSync('rsync', ['-aHAX', '--numeric-ids', '--modify-window=-1', '--delete', `${src}/`, `${dst}/`]);
}

/** Sets `path`'s mtime (not following symlinks) to `ref`'s, to the nanosecond. */
export function sameTimeAs(path: string, ref: string): void {
  execFileSync('touch', ['-h', '-m', '-r', ref, '--', path]);
}

export function verify(src: string, dst: string, options: Partial<VerifyOptions> = {}): Promise<VerifyReport> {
  return verifyTrees({ source: src, target: dst, recheckDelayMs: 20, ...options });
}

/** The differences as "kind path" lines, for readable assertions. */
export function kinds(report: VerifyReport): string[] {
  return report.differences.map((d: Difference) => `${d.kind} ${d.path}`);
}
