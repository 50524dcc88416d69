// Full reload runs: 100 reloads under keep-alive load, and a burst of reload requests coalescing.
import test from 'ava';
import { coalescedReloads, reloadsUnderLoad } from './scenarios/reloads.js';

test.serial('100 reloads under keep-alive load fail 0 requests; fds and RSS flat', (t) =>
  reloadsUnderLoad(t, { count: 100, workers: 2, concurrency: 8 }),
);

test.serial(
  'a HUP and 20 control-socket reloads sent during a reload coalesce into one more run',
  (t) => coalescedReloads(t, 20),
);
