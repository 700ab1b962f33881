/**
 * No false positive on the mirror tests' hostile trees (newlines, leading dashes, invalid UTF-8, 255-byte
 * names, hard links, FIFOs, xattrs, symlinks) copied with `rsync -aHAX`; a real difference on a hostile name
 * prints escaped, on one line, in text and in JSON; livesync's cookie files are never compared.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { display, fromBytes } from '../../src/util/bpath.ts';
import { renderText } from '../../src/verify/render.ts';
import { churn, HOSTILE_NAMES, LONGEST_NAME, populate } from '../helpers/churn.ts';
import { copyTree, kinds, verify, workspace } from './helpers.ts';

const SEED = Number(process.env['SEED'] ?? 7117);

test(`hostile tree copied with rsync -aHAX: identical, with and without --checksum (seed ${SEED})`, async () => {
  using ws = workspace('hostile');
  populate(ws.src, 300, 6);
  const counts = churn({ root: ws.src, ops: 600, seed: SEED, special: true });
  assert.ok((counts['hardlink'] ?? 0) > 0 && (counts['xattr'] ?? 0) > 0 && (counts['symlink'] ?? 0) > 0, JSON.stringify(counts));
  copyTree(ws.src, ws.dst);
  for (const checksum of [false, true]) {
    const report = await verify(ws.src, ws.dst, { checksum, jobs: 2 });
    assert.deepEqual(kinds(report), [], `seed ${SEED}, checksum ${checksum}`);
    assert.deepEqual(report.inFlight, []);
    assert.ok(report.compared.files > 250, JSON.stringify(report.compared));
  }
});

test('a difference on a hostile name is reported once, escaped, on one line', async () => {
  using ws = workspace('hostile-diff');
  const src = Buffer.from(ws.src);
  const names = [...HOSTILE_NAMES, LONGEST_NAME];
  mkdirSync(Buffer.concat([src, Buffer.from('/'), HOSTILE_NAMES[1]!]));
  for (const n of names) writeFileSync(Buffer.concat([src, Buffer.from('/'), HOSTILE_NAMES[1]!, Buffer.from('/'), n]), n);
  copyTree(ws.src, ws.dst);
  assert.deepEqual(kinds(await verify(ws.src, ws.dst, { checksum: true })), []);

  const dstDir = Buffer.concat([Buffer.from(ws.dst), Buffer.from('/'), HOSTILE_NAMES[1]!]);
  for (const n of names) chmodSync(Buffer.concat([dstDir, Buffer.from('/'), n]), 0o640);
  const report = await verify(ws.src, ws.dst);
  assert.equal(report.differences.length, names.length);
  const paths = report.differences.map((d) => d.path).sort();
  const expected = names.map((n) => display(fromBytes(Buffer.concat([HOSTILE_NAMES[1]!, Buffer.from('/'), n])))).sort();
  assert.deepEqual(paths, expected);
  assert.ok(paths.includes('new\\nline/--delete'), paths.join('\n'));
  assert.ok(paths.includes('new\\nline/ünïcödé-名前'));
  for (const p of paths) assert.ok([...p].every((c) => c.charCodeAt(0) >= 0x20), p);
  const text = renderText(report);
  assert.equal(text.split('\n').filter((l) => l.startsWith('  mode')).length, names.length, text);
  const json = JSON.parse(JSON.stringify(report)) as typeof report;
  assert.deepEqual(json.differences, report.differences);
});

test("livesync's cookie files (.livesync*) are skipped at any depth, and their directory's mtime with them", async () => {
  using ws = workspace('cookies');
  mkdirSync(join(ws.src, 'a'));
  writeFileSync(join(ws.src, 'a/f'), 'x');
  copyTree(ws.src, ws.dst);
  writeFileSync(join(ws.dst, '.livesync-heartbeat'), String(Date.now()));
  writeFileSync(join(ws.src, 'a/.livesync-cookie-1'), 'c');
  mkdirSync(join(ws.dst, 'a/.livesync-probe-dir'));
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), []);
  assert.equal(report.compared.files, 1);
});
