/**
 * Timestamp precision, pure. A filesystem keeps mtimes to some granularity (1 ns on tmpfs/ext4/xfs/NFSv4,
 * 1 s on ext4 with 128-byte inodes or some NFSv3 servers, 2 s on FAT) and truncates finer values. verify
 * learns each side's granularity without writing anything: the kernel stamps ctime itself at the
 * filesystem's full precision (utimensat cannot set it), so the finest granularity seen among a side's
 * ctimes is what that side keeps. mtimes are then compared at the coarser of the two sides.
 *
 * A coarse granularity is believed only on enough evidence: a ns clock yields a multiple of g by chance with
 * probability 1/g, so K distinct ctimes that are all multiples of g are trusted when g^K >= 10^9 (one whole
 * second suffices; multiples of 10 need nine). Otherwise the side counts as keeping nanoseconds.
 */

/** Granularities recognised, coarsest first (ns): whole seconds down to nanoseconds. */
const LADDER: readonly bigint[] = [1_000_000_000n, 100_000_000n, 10_000_000n, 1_000_000n, 100_000n, 10_000n, 1_000n, 100n, 10n];

const NS_PER_S = 1_000_000_000n;

/** Largest power of ten (<= 1 s) that divides the sub-second part of `ns`. */
export function granularityOf(ns: bigint): number {
  const sub = ((ns % NS_PER_S) + NS_PER_S) % NS_PER_S;
  for (const g of LADDER) if (sub % g === 0n) return Number(g);
  return 1;
}

/** Chance of mistaking a ns clock for a coarse one that we accept: 10^-EVIDENCE_DIGITS. */
const EVIDENCE_DIGITS = 9;
/** Distinct samples kept per side: enough evidence for any granularity down to 10 ns. */
export const MAX_SAMPLES = 16;

/** Tracks one side's ctimes: the finest granularity seen, and how many distinct values back it. */
export class GranularityTracker {
  #finest = 1_000_000_000;
  #seen = new Set<bigint>();

  observe(ns: bigint): void {
    if (this.#finest === 1 || this.#seen.has(ns)) return;
    if (this.#seen.size < MAX_SAMPLES) this.#seen.add(ns);
    const g = granularityOf(ns);
    if (g < this.#finest) this.#finest = g;
  }

  /** The precision this side keeps, in ns: the finest granularity seen, when the evidence suffices; else 1. */
  get precision(): number {
    if (this.#finest === 1) return 1;
    return this.#seen.size * Math.log10(this.#finest) >= EVIDENCE_DIGITS ? this.#finest : 1;
  }
}

/** The precision to compare at: the coarser side, or the operator's choice when coarser still. */
export function comparePrecision(source: number, target: number, requested: number | 'auto'): number {
  const sides = Math.max(source, target);
  return requested === 'auto' ? sides : Math.max(sides, requested);
}

function floorDiv(a: bigint, g: bigint): bigint {
  const q = a / g;
  return a % g !== 0n && a < 0n ? q - 1n : q;
}

/** Equal once both values are truncated to `precisionNs` (filesystems truncate, they do not round). */
export function sameAtPrecision(a: bigint, b: bigint, precisionNs: number): boolean {
  if (a === b) return true;
  const g = BigInt(precisionNs);
  return floorDiv(a, g) === floorDiv(b, g);
}

let lastSecond: bigint | undefined;
let lastIso = '';

/** ISO-8601 with all nine fraction digits, UTC. (Remembers the last second: reports list many alike.) */
export function showTime(ns: bigint): string {
  const sec = floorDiv(ns, NS_PER_S);
  const frac = ns - sec * NS_PER_S;
  if (sec !== lastSecond) {
    lastSecond = sec;
    lastIso = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  }
  return `${lastIso}.${frac.toString().padStart(9, '0')}Z`;
}

/** Parses an operator's precision: ns, us, ms, s, or a number of ns. */
export function parsePrecision(text: string): number | 'auto' | undefined {
  const UNITS: Record<string, number | 'auto'> = { auto: 'auto', ns: 1, us: 1_000, ms: 1_000_000, s: 1_000_000_000, '2s': 2_000_000_000 };
  if (text in UNITS) return UNITS[text];
  return /^[1-9][0-9]{0,10}$/.test(text) ? Number(text) : undefined;
}
