/**
 * Which files `--sample PERCENT` compares by content, pure. A file is picked when a seeded FNV-1a hash of its
 * path falls in the first PERCENT of the hash range: each file has the same chance, the choice needs no shared
 * state between walk workers, and the same seed picks the same files again (the report prints the seed).
 */
import type { RelPath } from '../util/bpath.ts';

const RANGE = 1_000_000;

export function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so that similar paths spread over the whole range
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

export function isSampled(rel: RelPath, percent: number, seed: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  return fnv1a(rel, seed) % RANGE < percent * (RANGE / 100);
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}
