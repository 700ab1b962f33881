/**
 * Which paths verify skips, pure. livesync's own cookie files (names starting with `.livesync`) are skipped
 * at any depth, plus the operator's --exclude globs:
 *   - a glob without '/' matches a name at any depth (`*.tmp`, `cache`)
 *   - a glob with '/' matches the whole relative path; a leading '/' only anchors it (`/var/tmp`, `a/*\/b`)
 *   - a trailing '/' matches directories only (`build/`)
 *   - `*` and `?` stay inside one name, `**` crosses '/', `[...]` is a character class
 * An excluded directory is not descended into. Globs are converted to binary strings (one char per byte),
 * like the paths they match, so UTF-8 globs match UTF-8 names byte for byte.
 */
import { Buffer } from 'node:buffer';
import type { RelPath } from '../util/bpath.ts';
import { COOKIE_PREFIX } from './policy.ts';

export interface CompiledGlob {
  regex: RegExp;
  /** matched against the whole path (true) or against the last name (false) */
  wholePath: boolean;
  dirOnly: boolean;
}

export type GlobCheck = { ok: true; glob: CompiledGlob } | { ok: false; reason: 'empty' | 'bad-class' | 'nul-byte' };

function escapeChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

function classToRegex(body: string): string {
  const negated = body.startsWith('!') || body.startsWith('^');
  const inner = (negated ? body.slice(1) : body).replace(/[\\\]^]/g, (c) => `\\${c}`);
  return negated ? `[^/${inner}]` : `[${inner}]`;
}

/** Validates and compiles one glob (as typed by the operator: a UTF-8 string). */
export function compileGlob(pattern: string): GlobCheck {
  if (pattern.includes('\0')) return { ok: false, reason: 'nul-byte' };
  let body = Buffer.from(pattern, 'utf8').toString('latin1');
  const dirOnly = body.endsWith('/');
  if (dirOnly) body = body.replace(/\/+$/, '');
  const anchored = body.startsWith('/');
  body = body.replace(/^\/+/, '');
  if (body === '') return { ok: false, reason: 'empty' };
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '*') {
      if (body[i + 1] === '*') {
        i++;
        if (body[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else {
          out += '.*';
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = body.indexOf(']', i + 2);
      if (end < 0) return { ok: false, reason: 'bad-class' };
      out += classToRegex(body.slice(i + 1, end));
      i = end;
    } else {
      out += escapeChar(c);
    }
  }
  return { ok: true, glob: { regex: new RegExp(`^${out}$`, 's'), wholePath: anchored || body.includes('/'), dirOnly } };
}

export class PathFilter {
  #globs: readonly CompiledGlob[];

  constructor(globs: readonly CompiledGlob[]) {
    this.#globs = globs;
  }

  /** Compiles globs already checked by compileGlob (the CLI validates them first). */
  static fromPatterns(patterns: readonly string[]): PathFilter {
    const globs: CompiledGlob[] = [];
    for (const p of patterns) {
      const check = compileGlob(p);
      if (check.ok) globs.push(check.glob);
    }
    return new PathFilter(globs);
  }

  /** True when `rel` (whose last component is `name`) is skipped. */
  excludes(rel: RelPath, name: string, isDir: boolean): boolean {
    if (name.startsWith(COOKIE_PREFIX)) return true;
    for (const g of this.#globs) {
      if (g.dirOnly && !isDir) continue;
      if (g.regex.test(g.wholePath ? rel : name)) return true;
    }
    return false;
  }

  /** For a path given on its own (verify --paths): any excluded ancestor excludes it too. */
  excludesPath(rel: RelPath, isDir: boolean): boolean {
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      if (this.excludes(parts.slice(0, i + 1).join('/'), parts[i] as string, last ? isDir : true)) return true;
    }
    return false;
  }
}
