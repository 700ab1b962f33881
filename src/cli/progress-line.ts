/** A live seed progress line on a TTY (stderr), fed by seed-progress events. Returns its disposer. */
import type { EventBus } from '../events/event.ts';

function human(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function progressLine(bus: EventBus): () => void {
  let shown = false;
  const unsubscribe = bus.subscribe((e) => {
    if (e.type === 'seed-progress') {
      const p = e.progress;
      const pct = p.percent === null ? '' : `${p.percent.toFixed(0)}% `;
      const eta = p.etaS === null ? '' : ` ETA ${p.etaS}s`;
      process.stderr.write(`\r\x1b[Kseed: ${pct}${p.files} files ${human(p.bytes)} ${human(p.rate)}/s${eta}`);
      shown = true;
    } else if ((e.type === 'seed-done' || e.type === 'state') && shown) {
      process.stderr.write('\r\x1b[K');
      shown = false;
    }
  });
  return unsubscribe;
}
