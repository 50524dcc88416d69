// Runs in the supervisor: the one validation every door uses to change the worker count.

export type ScaleRequest = { to: number } | { by: number };
export type ScaleResult = { ok: true; from: number; to: number } | { ok: false; error: string };

/** The one validation every door uses: refused, not clamped, below 1 or above max-workers. */
export function checkScale(current: number, req: ScaleRequest, maxWorkers: number): ScaleResult {
  const wanted = 'to' in req ? req.to : current + req.by;
  if (!Number.isInteger(wanted))
    return { ok: false, error: `expected a whole number of workers, got ${wanted}` };
  if (wanted < 1) return { ok: false, error: `the pool never goes below 1 worker, got ${wanted}` };
  if (wanted > maxWorkers)
    return {
      ok: false,
      error: `${wanted} is above max-workers ${maxWorkers} (start gsup with a higher --max-workers)`,
    };
  return { ok: true, from: current, to: wanted };
}
