/**
 * Per-second history for the last HISTORY_S seconds, in bounded memory: a ring of one bucket per second holding
 * the highest lag seen in that second and the files, bytes and changes counted in it. Pure: time only enters
 * through the arguments, so a scripted event sequence gives exactly the same history.
 */

/** ten minutes: the sparkline of `status --watch` and the throughput window both fit in it */
export const HISTORY_S = 600;
const SECOND_MS = 1000;

export interface SecondSums {
  files: number;
  bytes: number;
  changes: number;
}

export class SecondRing {
  /** which second (floor(ms / 1000)) each slot currently holds; NaN = never used */
  #second = new Float64Array(HISTORY_S).fill(Number.NaN);
  #lagMax = new Float64Array(HISTORY_S);
  #files = new Float64Array(HISTORY_S);
  #bytes = new Float64Array(HISTORY_S);
  #changes = new Float64Array(HISTORY_S);
  #first: number | null = null;

  #slot(second: number): number {
    const i = ((second % HISTORY_S) + HISTORY_S) % HISTORY_S;
    if (this.#second[i] !== second) {
      this.#second[i] = second;
      this.#lagMax[i] = 0;
      this.#files[i] = 0;
      this.#bytes[i] = 0;
      this.#changes[i] = 0;
    }
    this.#first ??= second;
    return i;
  }

  /** Records that the lag was `lagMs` at time `atMs` (keeps the highest per second). */
  lag(atMs: number, lagMs: number): void {
    const i = this.#slot(Math.floor(atMs / SECOND_MS));
    this.#lagMax[i] = Math.max(this.#lagMax[i] ?? 0, lagMs);
  }

  add(atMs: number, sums: Partial<SecondSums>): void {
    const i = this.#slot(Math.floor(atMs / SECOND_MS));
    this.#files[i] = (this.#files[i] ?? 0) + (sums.files ?? 0);
    this.#bytes[i] = (this.#bytes[i] ?? 0) + (sums.bytes ?? 0);
    this.#changes[i] = (this.#changes[i] ?? 0) + (sums.changes ?? 0);
  }

  /** The highest lag of each of the `seconds` seconds ending with the one holding `nowMs`, oldest first. */
  lagSamples(nowMs: number, seconds: number): { startAt: number; samplesMs: Array<number | null> } {
    const n = Math.max(1, Math.min(HISTORY_S, Math.floor(seconds)));
    const last = Math.floor(nowMs / SECOND_MS);
    const samplesMs: Array<number | null> = [];
    for (let s = last - n + 1; s <= last; s++) {
      const i = ((s % HISTORY_S) + HISTORY_S) % HISTORY_S;
      samplesMs.push(this.#second[i] === s ? (this.#lagMax[i] ?? 0) : null);
    }
    return { startAt: (last - n + 1) * SECOND_MS, samplesMs };
  }

  /** Sums over the `seconds` whole seconds before the one holding `nowMs` (the current one is incomplete). */
  sums(nowMs: number, seconds: number): SecondSums & { seconds: number } {
    const last = Math.floor(nowMs / SECOND_MS) - 1;
    const available = this.#first === null ? 0 : last - this.#first + 1;
    const n = Math.max(0, Math.min(HISTORY_S - 1, Math.floor(seconds), available));
    const total = { files: 0, bytes: 0, changes: 0, seconds: n };
    for (let s = last - n + 1; s <= last; s++) {
      const i = ((s % HISTORY_S) + HISTORY_S) % HISTORY_S;
      if (this.#second[i] !== s) continue;
      total.files += this.#files[i] ?? 0;
      total.bytes += this.#bytes[i] ?? 0;
      total.changes += this.#changes[i] ?? 0;
    }
    return total;
  }
}
