/**
 * Glue only: mount(8)/umount(8) through execa (argv, never a shell) and /proc/self/mountinfo parsing.
 * Callers decide what to mount where and what a failure means.
 */
import { readFileSync } from 'node:fs';
import { run, type ExecResult } from './exec.ts';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** major:minor */
  dev: string;
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function readMountInfo(pid: number | 'self' = 'self'): MountEntry[] {
  const text = readFileSync(`/proc/${pid}/mountinfo`, 'latin1');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const f = (pre ?? '').split(' ');
    const g = (post ?? '').split(' ');
    out.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      dev: f[2] ?? '',
      root: unescape(f[3] ?? ''),
      mountPoint: unescape(f[4] ?? ''),
      fsType: g[0] ?? '',
      source: unescape(g[1] ?? ''),
    });
  }
  return out;
}

/** The mount whose mount point is exactly `path` (the topmost one), if any. */
export function mountAt(path: string): MountEntry | undefined {
  const all = readMountInfo().filter((m) => m.mountPoint === path);
  return all[all.length - 1];
}

export function mount(spec: string, target: string, options: { type?: string; options?: string; bind?: boolean } = {}): Promise<ExecResult> {
  const args = [
    ...(options.bind ? ['--bind'] : []),
    ...(options.type ? ['-t', options.type] : []),
    ...(options.options ? ['-o', options.options] : []),
    '--',
    spec,
    target,
  ];
  return run('mount', args);
}

export function umount(target: string, options: { lazy?: boolean } = {}): Promise<ExecResult> {
  return run('umount', [...(options.lazy ? ['-l'] : []), '--', target]);
}
