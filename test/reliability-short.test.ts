// The reliability suite, short: the same scenarios as `npm run test:reliability`
// (test/reliability/), with smaller counts so that it fits in the normal test run.
import test from 'ava';
import { registerTable } from './reliability/bad-input/table.js';
import { bigStatus } from './reliability/scenarios/big-status.js';
import { chaos } from './reliability/scenarios/chaos.js';
import { gracefulStop } from './reliability/scenarios/graceful-stop.js';
import { coalescedReloads, reloadsUnderLoad } from './reliability/scenarios/reloads.js';
import { stuckSubscriber } from './reliability/scenarios/stuck-subscriber.js';
import { supervisorDeath } from './reliability/scenarios/supervisor-death.js';
import { unreadReplies } from './reliability/scenarios/unread-replies.js';

// Serial: each of these loads the machine on purpose, and must not share it with the others.
test.serial('chaos (short): SIGKILL a random worker every 0.5 s for 5 s under load', (t) =>
  chaos(t, { workers: 4, seconds: 5, everyMs: 500, concurrency: 8 }),
);

test.serial('10 reloads under keep-alive load fail 0 requests; fds and RSS flat', (t) =>
  reloadsUnderLoad(t, { count: 10, workers: 2, concurrency: 8 }),
);

test.serial('reload requests sent during a reload coalesce into one more run', (t) =>
  coalescedReloads(t, 6),
);

test.serial('kill -9 of the supervisor leaves no worker alive within 3 s (3 runs)', (t) =>
  supervisorDeath(t, 3),
);

test.serial('graceful stop with a 2 s request in flight answers it 200', (t) =>
  gracefulStop(t, 'SIGTERM'),
);

// Regression: the control server once queued a reply for every request of a client that never
// read them, without limit (100,000 status requests grew the supervisor from ~70 MB to ~300 MB).
test.serial('a control client that never reads its replies cannot grow the supervisor', (t) =>
  unreadReplies(t, 100_000),
);

// Regression: `gsup status --json` into a pipe once stopped at 65,536 bytes (the CLI exited
// before stdout drained).
test.serial('gsup status --json prints the whole snapshot into a pipe, even over 64 KiB', (t) =>
  bigStatus(t),
);

// Regression: a subscriber that stopped reading was once sent every event, queued without limit.
test.serial('a subscriber that stops reading is not sent every event', (t) =>
  stuckSubscriber(t, 50_000),
);

// The whole bad-input table: every case is quick on its own.
registerTable(test, 3);
