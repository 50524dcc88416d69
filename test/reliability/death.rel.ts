// Full runs of supervisor death and graceful stop.
import test from 'ava';
import { gracefulStop } from './scenarios/graceful-stop.js';
import { supervisorDeath } from './scenarios/supervisor-death.js';

test.serial(
  'kill -9 of the supervisor leaves no worker alive within 3 s, in each of 10 runs',
  (t) => supervisorDeath(t, 10),
);

test.serial('graceful stop (SIGTERM) with a 2 s request in flight answers it 200', (t) =>
  gracefulStop(t, 'SIGTERM'),
);

test.serial('graceful stop (gsup stop) with a 2 s request in flight answers it 200', (t) =>
  gracefulStop(t, 'gsup stop'),
);
