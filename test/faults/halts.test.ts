/**
 * Safety halts: when the source root disappears, is replaced, or is suddenly emptied, or more paths are deleted
 * at once than --max-delete allows, the daemon stops propagating (state `halted`, a loud log line, `flush`
 * exits 9) and leaves the target untouched: every entry the target had before is still there (0 deletions
 * propagated), and nothing appeared but livesync's own cookie files (a write made while the deletions
 * settle, such as the heartbeat, may still land). The daemon process stays up (its status answers) until an
 * operator stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { COOKIE_PREFIX } from '../../src/engine/cookies.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { populate } from '../helpers/churn.ts';
import { converge, countEntries, flush, sleep, statusUntil } from './helpers.ts';

const skip = rootSkipReason();

/** A source directory one level below a tmpfs, so the test can remove or replace the root itself. */
async function rig(prefix: string, extra: string[] = []): Promise<{ root: string; src: string; dst: string; state: string; daemon: Daemon } & AsyncDisposable> {
  const base = tmpfsDir(`${prefix}-src`);
  const dst = tmpfsDir(`${prefix}-dst`);
  const state = tmpfsDir(`${prefix}-state`, '16m', '700');
  const src = `${base.path}/data`;
  mkdirSync(src);
  populate(src, 1_000, 10);
  const daemon = new Daemon([src, dst.path, '--state-dir', state.path, '--name', prefix, ...extra]);
  await daemon.waitState('in-sync', 60_000);
  return {
    root: base.path,
    src,
    dst: dst.path,
    state: state.path,
    daemon,
    async [Symbol.asyncDispose]() {
      await daemon[Symbol.asyncDispose]();
      state[Symbol.dispose]();
      dst[Symbol.dispose]();
      base[Symbol.dispose]();
    },
  };
}

/** Every path under `root` (binary-safe, relative). */
function entries(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(Buffer.from(rel === '' ? root : `${root}/${rel}`, 'latin1'), { withFileTypes: true, encoding: 'buffer' })) {
      const p = rel === '' ? e.name.toString('latin1') : `${rel}/${e.name.toString('latin1')}`;
      out.add(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

/**
 * Waits for `halted`, checks what the operator sees, and that the target was left as it was (`allowedLoss`:
 * entries a guard may let through before it trips, e.g. up to --max-delete COUNT).
 */
async function assertHalted(r: { dst: string; state: string; daemon: Daemon }, name: string, before: Set<string>, reason: RegExp, allowedLoss = 0): Promise<void> {
  const s = await statusUntil(r.state, name, (x) => x.state === 'halted', 30_000);
  assert.equal(s.state, 'halted', `state ${s.state} (${s.stateReason})`);
  assert.match(s.stateReason ?? '', reason);
  assert.ok(r.daemon.records.some((l) => l.event === 'error' && l['code'] === 'E_HALTED'), 'a loud E_HALTED log line');
  const f = await flush(r.state, name, 5_000);
  assert.equal(f.code, 9, `flush exits 9 when halted: ${f.stdout}${f.stderr}`);
  await sleep(1_000); // a batch that was going to run would have run by now
  const after = entries(r.dst);
  const lost = [...before].filter((p) => !after.has(p));
  const added = [...after].filter((p) => !before.has(p) && !p.startsWith(COOKIE_PREFIX));
  if (allowedLoss === 0) assert.deepEqual(lost.slice(0, 5), [], `the target is untouched: ${lost.length} entries deleted`);
  else assert.ok(lost.length <= allowedLoss, `${lost.length} entries deleted on the target, above ${allowedLoss}`);
  assert.deepEqual(added, [], 'nothing but livesync cookies appeared on the target');
  assert.equal(s.pid, r.daemon.child.pid, 'the daemon stays up, halted');
}

test('source root removed: halted, target untouched', { skip, timeout: 60_000 }, async () => {
  await using r = await rig('h-gone');
  const before = entries(r.dst);
  // livesync may rewrite its heartbeat cookie in the root while it is removed: ENOTEMPTY, retried
  rmSync(r.src, { recursive: true, maxRetries: 5 });
  await assertHalted(r, 'h-gone', before, /disappeared or was replaced/);
  assert.equal(await r.daemon.stop(), 0);
});

test('source root replaced by another directory: halted, target untouched', { skip, timeout: 60_000 }, async () => {
  await using r = await rig('h-repl');
  const before = entries(r.dst);
  renameSync(r.src, `${r.root}/data.old`);
  mkdirSync(r.src);
  await assertHalted(r, 'h-repl', before, /disappeared or was replaced/);
  assert.equal(await r.daemon.stop(), 0);
});

test('source root emptied (rm -rf of all its contents): halted, target untouched', { skip, timeout: 60_000 }, async () => {
  await using r = await rig('h-empty');
  const before = entries(r.dst);
  for (const name of readdirSync(r.src, { encoding: 'buffer' })) rmSync(Buffer.concat([Buffer.from(`${r.src}/`), name]), { recursive: true });
  await assertHalted(r, 'h-empty', before, /emptied|empty/);
  assert.equal(await r.daemon.stop(), 0);
});

test('--max-delete COUNT: deleting more paths at once halts, at most COUNT propagated', { skip, timeout: 60_000 }, async () => {
  await using r = await rig('h-maxdel', ['--max-delete', '100']);
  const before = entries(r.dst);
  // 300 files of three directories, in one go: above the limit, far from emptying the source
  for (let i = 0; i < 100; i++) for (const d of [0, 1, 2]) unlinkSync(`${r.src}/d${d}/file${i}`);
  await assertHalted(r, 'h-maxdel', before, /mass delete.*--max-delete/, 100);
  assert.equal(await r.daemon.stop(), 0);
});

test('--max-delete COUNT: a slow mass delete spread over many batches still halts, at most COUNT propagated', { skip, timeout: 60_000 }, async () => {
  await using r = await rig('h-slowdel', ['--max-delete', '100']);
  const before = entries(r.dst);
  // 10 deletions every 30 ms: every batch alone carries far fewer than the limit
  for (let i = 0; i < 30; i++) {
    for (let k = 0; k < 10; k++) unlinkSync(`${r.src}/d${i % 10}/file${k + 10 * Math.floor(i / 10)}`);
    await sleep(30);
  }
  await assertHalted(r, 'h-slowdel', before, /mass delete.*--max-delete/, 100);
  assert.equal(await r.daemon.stop(), 0);
});

test('a first start against an unrelated, non-empty share halts before deleting anything; --max-delete 0 overrides', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('f-wrong-src');
  using dst = tmpfsDir('f-wrong-dst');
  using state = tmpfsDir('f-wrong-state', '16m', '700');
  populate(src.path, 100, 4);
  // somebody else's data: two top-level entries, hundreds of entries below (the guard counts them all)
  mkdirSync(`${dst.path}/home`);
  populate(`${dst.path}/home`, 400, 8);
  mkdirSync(`${dst.path}/projects`);
  const before = countEntries(dst.path);
  const args = [src.path, dst.path, '--state-dir', state.path, '--name', 'wrong'];
  {
    await using d = new Daemon(args);
    await d.waitState('halted', 60_000);
    const halted = await statusUntil(state.path, 'wrong', () => true);
    assert.match(halted.stateReason ?? '', /reconciling would delete \d+ entries on the target, above --max-delete 50% .*is this the right target/);
    assert.equal(countEntries(dst.path), before, 'target untouched');
    assert.equal(await d.stop(), 0);
  }
  await using forced = new Daemon([...args, '--max-delete', '0']);
  await forced.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'the operator said so: the target follows the source');
  assert.equal(await forced.stop(), 0);
});
