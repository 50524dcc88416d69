// The real dashboard drawing a real pool into a headless terminal, for tests that read the screen.
import type { ExecutionContext } from 'ava';
import { Dashboard, type PoolSource } from '../dist/dashboard/dashboard.js';
import { Supervisor, type SupervisorOptions } from '../dist/index.js';
import { until } from './helpers.js';
import { HeadlessTerminal } from './term.js';

export interface DashboardRig {
  sup: Supervisor;
  term: HeadlessTerminal;
  dash: Dashboard;
  errors: unknown[];
  /** Waits until the screen satisfies `cond`; the failure message shows the screen. */
  screen(what: string, cond: (text: string) => boolean): Promise<string>;
}

/** A started pool with `options` and its dashboard in a `size` terminal, both stopped at teardown. */
export async function dashboardRig(
  t: ExecutionContext,
  options: SupervisorOptions,
  size: [number, number] = [120, 40],
  source?: (sup: Supervisor) => PoolSource,
): Promise<DashboardRig> {
  const sup = new Supervisor(options);
  const term = new HeadlessTerminal(size[0], size[1]);
  const errors: unknown[] = [];
  const dash = new Dashboard({
    source: source ? source(sup) : sup,
    commands: sup,
    refreshMs: 200,
    input: term.input,
    output: term.output,
    onError: (err) => errors.push(err),
  });
  t.teardown(async () => {
    dash.destroy();
    await sup.stop({ quick: true });
  });
  await sup.start();
  dash.start();
  const screen = async (what: string, cond: (text: string) => boolean) => {
    try {
      await until(what, () => cond(term.text()));
    } catch (err) {
      throw new Error(`${(err as Error).message}\nscreen:\n${term.text()}`);
    }
    return term.text();
  };
  return { sup, term, dash, errors, screen };
}
