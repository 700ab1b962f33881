/**
 * Signals while rsync runs. execa's child cleanup (signal-exit) re-raises a SIGTERM it believes nobody else
 * handles; with a one-shot handler in the daemon, a SIGTERM that arrived while a batch's rsync ran killed the
 * daemon by the signal (seen in CI as a null exit code). SIGTERM must always mean: finish the in-flight batch,
 * persist what is pending, exit 0; a second SIGTERM while stopping is logged and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { converge, until } from './helpers.ts';

const skip = rootSkipReason();

for (const signals of [1, 2]) {
  test(`${signals} SIGTERM while a batch's rsync runs: the batch finishes, exit 0, nothing lost`, { skip, timeout: 60_000 }, async () => {
    using src = tmpfsDir('f-sig-src', '1g');
    using dst = tmpfsDir('f-sig-dst', '1g');
    using state = tmpfsDir('f-sig-state', '16m', '700');
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'sig', '--no-heartbeat', '--exclude', '/staging/']);
    await d.waitState('in-sync', 30_000);
    // written whole aside, then renamed in: one batch carries the complete file (long enough to land mid-rsync)
    mkdirSync(`${src.path}/staging`);
    writeFileSync(`${src.path}/staging/big`, Buffer.alloc(256 * 1024 * 1024, 7));
    renameSync(`${src.path}/staging/big`, `${src.path}/big`);
    // rsync is running when its temporary file (.big.XXXXXX) is in the target
    assert.ok(await until(() => readdirSync(dst.path).some((n) => n.startsWith('.big.')), 30_000, 5), 'an rsync copying the big file');
    d.child.kill('SIGTERM');
    if (signals === 2) {
      await d.waitFor((r) => r.msg === 'received SIGTERM: stopping after the in-flight batch', 10_000, 'the first signal handled');
      d.child.kill('SIGTERM'); // sent at once, two signals would merge into one pending signal
    }
    assert.equal(await d.stop(), 0, 'graceful exit, not death by the signal');
    assert.ok(d.records.some((r) => r.msg === 'received SIGTERM: stopping after the in-flight batch'), 'the stop is logged');
    if (signals === 2) assert.ok(d.records.some((r) => r['code'] === 'W_STOPPING'), 'the second signal is logged, not fatal');
    assert.deepEqual((await converge(src.path, dst.path, 1)).filter((l) => !l.includes('staging')), [], 'the in-flight batch finished before the exit');
  });
}
