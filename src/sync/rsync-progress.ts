/**
 * Pure parser for rsync's `--info=progress2 --no-human-readable` lines, which rsync separates with '\r':
 *   "   300000000  10%   39.96MB/s    0:00:00 (xfr#3, to-chk=27/31)"
 */
export interface RsyncProgressLine {
  bytes: number;
  percent: number;
  /** bytes per second */
  rate: number;
  /** files transferred so far */
  transferred: number | null;
  /** entries checked so far and total known so far (to-chk / ir-chk) */
  checked: number | null;
  total: number | null;
}

const LINE = /(\d+)\s+(\d+)%\s+([\d.]+)([kMGT]?)B\/s\s+\d+:\d\d:\d\d(?:\s+\(xfr#(\d+), (?:to|ir)-chk=(\d+)\/(\d+)\))?/;
const UNIT: Record<string, number> = { '': 1, k: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export function parseProgressLine(line: string): RsyncProgressLine | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const left = m[6] === undefined ? null : Number(m[6]);
  const total = m[7] === undefined ? null : Number(m[7]);
  return {
    bytes: Number(m[1]),
    percent: Number(m[2]),
    rate: Number(m[3]) * (UNIT[m[4] ?? ''] ?? 1),
    transferred: m[5] === undefined ? null : Number(m[5]),
    checked: left === null || total === null ? null : total - left,
    total,
  };
}

/** Splits a stream of chunks into progress records; keeps the unfinished tail between chunks. */
export class ProgressSplitter {
  #tail = '';
  push(chunk: string): RsyncProgressLine[] {
    const parts = (this.#tail + chunk).split(/[\r\n]/);
    this.#tail = parts.pop() ?? '';
    const out: RsyncProgressLine[] = [];
    for (const p of parts) {
      const parsed = parseProgressLine(p);
      if (parsed) out.push(parsed);
    }
    return out;
  }
}
