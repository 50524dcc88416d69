// Full chaos run: a SIGKILL every 0.5 s for 30 s under keep-alive load.
import test from 'ava';
import { chaos } from './scenarios/chaos.js';

test('chaos: SIGKILL a random worker every 0.5 s for 30 s under keep-alive load', (t) =>
  chaos(t, { workers: 4, seconds: 30, everyMs: 500, concurrency: 8 }));
