// Turns the summaries of one worker count into the printed table and the ratio checks.

/**
 * What gsup must reach against baselines measured in the same run. Informational: printed as
 * PASS/FAIL, never the exit code, since a busy machine can miss them without a regression.
 */
const FLOORS = {
  'keep-alive': { bare: 0.95 },
  close: { bare: 0.95, cluster: 1.4 },
};

/** The setups gsup is compared with, in the order the ratios are printed. */
const BASELINES = ['single', 'cluster', 'bare', 'pm2', 'gunicorn'];

/**
 * gsup's median req/s over each baseline's measured in the same run, per mode, with the floor
 * check where one exists. Baselines not in this run (--setups) are skipped.
 */
export function ratios(summaries, modes) {
  if (!summaries.gsup) return [];
  return modes.flatMap((mode) =>
    BASELINES.filter((b) => summaries[b]).map((baseline) => {
      const value = summaries.gsup[mode].rps.median / summaries[baseline][mode].rps.median;
      const floor = FLOORS[mode]?.[baseline] ?? null;
      return {
        mode,
        ratio: `gsup/${baseline}`,
        value,
        floor,
        pass: floor === null || value >= floor,
      };
    }),
  );
}

export function table({ workers, options, summaries, setups, modes, checks }) {
  const head = ['mode', 'setup', 'req/s median', 'min', 'max', 'p50 ms', 'p99 ms', 'errors'];
  const rows = [];
  for (const mode of modes) {
    for (const { name } of setups) {
      const s = summaries[name][mode];
      rows.push([
        mode,
        name,
        num(s.rps.median),
        num(s.rps.min),
        num(s.rps.max),
        s.p50Ms.toFixed(2),
        s.p99Ms.toFixed(2),
        errors(s),
      ]);
    }
  }
  const lines = [
    '',
    `N=${workers} workers, median of ${options.rounds} interleaved rounds × ${options.duration}s, ` +
      `wrk -t${options.threads} -c${options.connections}`,
    '',
    ...columns([head, ...rows]),
    '',
  ];
  for (const c of checks) {
    const verdict =
      c.floor === null ? '' : `  (floor ${c.floor.toFixed(2)}×)  ${c.pass ? 'PASS' : 'FAIL'}`;
    lines.push(`${c.mode.padEnd(10)}  ${c.ratio.padEnd(14)}  ${c.value.toFixed(2)}×${verdict}`);
  }
  return lines.join('\n');
}

/** "socket errors + HTTP errors", or 0 when both are 0. */
function errors(s) {
  return s.socketErrors + s.non2xx === 0 ? '0' : `${s.socketErrors} sock + ${s.non2xx} http`;
}

function num(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** Left-aligns text columns and right-aligns figures. */
function columns(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '),
  );
}
