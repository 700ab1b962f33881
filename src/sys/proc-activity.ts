/**
 * Glue only: a fingerprint of how much a process tree has done (CPU ticks + bytes read/written of the process
 * and its descendants, from /proc). Two equal fingerprints some seconds apart mean the tree did nothing in
 * between: the caller decides whether that is a stall.
 */
import { readFileSync } from 'node:fs';

function children(pid: number): number[] {
  try {
    const out: number[] = [];
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of tasks.split(/\s+/)) if (c) out.push(Number(c));
    return out;
  } catch {
    return [];
  }
}

/** pid and all its descendants (alive now). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...children(p));
  }
  return out;
}

export function activity(pid: number): string {
  const parts: string[] = [];
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const io = readFileSync(`/proc/${p}/io`, 'latin1').replace(/\n/g, ' ');
      parts.push(`${p}:${f[11]}:${f[12]}:${io}`);
    } catch {
      parts.push(`${p}:gone`);
    }
  }
  return parts.join('|');
}

export function killTree(pid: number): void {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
