/**
 * The cutover journal: one JSON line per step transition, appended and fsynced BEFORE the step acts, so
 * `livesync recover` can tell after a crash what was done and what to undo. Lives in the state dir.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { JournalRecord, StepName } from './types.ts';

export class Journal {
  readonly path: string;
  #fd: number;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'w', 0o600);
  }

  write(step: JournalRecord['step'], phase: JournalRecord['phase'], detail?: Record<string, unknown>): void {
    const record: JournalRecord = { at: new Date().toISOString(), step, phase, ...(detail ? { detail } : {}) };
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export function readJournal(path: string): JournalRecord[] {
  const text = readFileSync(path, 'utf8');
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      // a torn last line after a crash: ignore it
    }
  }
  return out;
}

/** The last phase recorded for each step. */
export function lastPhases(records: readonly JournalRecord[]): Map<StepName | 'cutover', JournalRecord['phase']> {
  const m = new Map<StepName | 'cutover', JournalRecord['phase']>();
  for (const r of records) m.set(r.step, r.phase);
  return m;
}
