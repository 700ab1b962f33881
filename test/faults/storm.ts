/**
 * The event storm shared by test/faults/storm.test.ts and bench/faults.ts: a tree of N small files (100 per
 * directory) and rounds of one attribute change on every file (one IN_ATTRIB event each), plus the stated peak
 * RSS budget of the daemon under it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';

/**
 * Peak RSS (VmHWM) the daemon must stay under during 1M events over 100k paths. Measured ~200 MiB
 * (docs/faults.md): Node's own ~70 MiB, the 100k-path dirty set and watcher tree, rsync lists; the budget
 * leaves room for the machine, and a per-event leak (1M events) would blow it.
 */
export const STORM_RSS_BUDGET_MB = 400;

/** `files` files under root/t/dNNNN/, 100 per directory; returns their paths. */
export function makeTree(root: string, files: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < files; i++) {
    const d = `${root}/t/d${String(Math.floor(i / 100)).padStart(4, '0')}`;
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    const p = `${d}/f${i}`;
    writeFileSync(p, `${i}\n`);
    paths.push(p);
  }
  return paths;
}

/** `rounds` passes of utimes over every path (distinct times each round); returns the number of events caused. */
export function storm(paths: readonly string[], rounds: number, utimes: (p: string, a: Date, m: Date) => void): number {
  const base = Date.now() - 86_400_000;
  for (let r = 0; r < rounds; r++) {
    const t = new Date(base + r * 1000);
    for (const p of paths) utimes(p, t, t);
  }
  return paths.length * rounds;
}
