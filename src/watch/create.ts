/** Picks the watcher implementation for `--watcher` (the chokidar one loads lazily: it is for small trees). */
import type { Watcher, WatcherOptions } from './types.ts';
import { InotifyWatcher } from './inotify-watcher.ts';

export async function createWatcher(kind: 'inotify' | 'chokidar', options: WatcherOptions): Promise<Watcher> {
  if (kind === 'inotify') return new InotifyWatcher(options);
  const mod = (await import('./chokidar-watcher.ts')) as { ChokidarWatcher: new (o: WatcherOptions) => Watcher };
  return new mod.ChokidarWatcher(options);
}
