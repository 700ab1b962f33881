/**
 * Syncer-agnostic mirror probe (same method as the anchors' probe.py): writes into SRC and polls DST every 2 ms
 * until the change is there. Used for livesync and lsyncd alike, in the same run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const POLL_MS = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<number | null> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > timeoutMs) return null;
    await sleep(POLL_MS);
  }
  return performance.now() - t0;
}

function contentIs(path: string, want: Buffer): boolean {
  try {
    return readFileSync(path).equals(want);
  } catch {
    return false;
  }
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export async function latency(src: string, dst: string, n = 30, gapMs = 100): Promise<{ p50: number; p90: number; p99: number; missed: number }> {
  mkdirSync(join(src, 'probe'), { recursive: true });
  await sleep(300);
  const lat: number[] = [];
  let missed = 0;
  for (let i = 0; i < n; i++) {
    const name = `probe/p${i}-${randomBytes(4).toString('hex')}`;
    const want = randomBytes(64);
    const t0 = performance.now();
    writeFileSync(join(src, name), want);
    const dt = await waitFor(() => contentIs(join(dst, name), want), 10_000);
    if (dt === null) missed++;
    else lat.push(performance.now() - t0);
    await sleep(gapMs);
  }
  lat.sort((a, b) => a - b);
  return { p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), missed };
}

export async function burst(src: string, dst: string, n = 10_000): Promise<{ writeS: number; convergeS: number | null }> {
  const d = join(src, 'burst');
  mkdirSync(d, { recursive: true });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) writeFileSync(join(d, `b${String(i).padStart(6, '0')}`), `b${i}`);
  const writeS = (performance.now() - t0) / 1000;
  const last = join(dst, 'burst', `b${String(n - 1).padStart(6, '0')}`);
  const dt = await waitFor(() => existsSync(last) && readdirSync(join(dst, 'burst')).length >= n, 120_000);
  return { writeS, convergeS: dt === null ? null : (performance.now() - t0) / 1000 };
}

export async function deletes(src: string, dst: string): Promise<{ n: number; convergeS: number | null }> {
  const d = join(src, 'burst');
  const names = readdirSync(d);
  const t0 = performance.now();
  for (const n of names) unlinkSync(join(d, n));
  const dt = await waitFor(() => {
    try {
      return readdirSync(join(dst, 'burst')).length === 0;
    } catch {
      return true;
    }
  }, 120_000);
  return { n: names.length, convergeS: dt === null ? null : (performance.now() - t0) / 1000 };
}
