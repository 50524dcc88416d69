// The one scale policy, shared by every door (signals, keys, the control socket, the CLI, a
// reload's config): a request sets the count ({to: N}) or changes it ({by: ±N}), and one
// validation decides. Out-of-range requests are refused, not clamped, so `gsup scale 70` and
// `gsup scale +70` at max-workers 64 get the same answer.

/** Set the worker count, or change it by a signed step. */
export type ScaleRequest = { to: number } | { by: number };

/** The count a request moves to, or the one line that says why not. */
export type ScaleResult = { ok: true; from: number; to: number } | { ok: false; error: string };

/** The count a request would reach from `current` (not validated). */
export function scaleTarget(current: number, req: ScaleRequest): number {
  return 'to' in req ? req.to : current + req.by;
}

/** The one validation every door uses. */
export function checkScale(current: number, req: ScaleRequest, maxWorkers: number): ScaleResult {
  const given = 'to' in req ? req.to : req.by;
  if (!Number.isInteger(given)) {
    return {
      ok: false,
      error: `expected a whole number of workers, got ${formatScale(req)} (use N, +N or -N, e.g. 8, +2, -1)`,
    };
  }
  const to = scaleTarget(current, req);
  if (to < 1) return { ok: false, error: `the pool never goes below 1 worker, got ${to}` };
  if (to > maxWorkers) {
    return {
      ok: false,
      error: `${to} is above max-workers ${maxWorkers} (start gsup with a higher --max-workers)`,
    };
  }
  return { ok: true, from: current, to };
}

/** A scale argument: `8` or "8" sets the count, "+2" / "-1" change it; null when malformed. */
export function parseScale(input: unknown): ScaleRequest | null {
  if (typeof input === 'number') return Number.isInteger(input) ? { to: input } : null;
  if (typeof input !== 'string') return null;
  const m = /^([+-]?)(\d{1,7})$/.exec(input.trim());
  if (!m) return null;
  const n = Number(m[2]);
  if (m[1] === '+') return { by: n };
  if (m[1] === '-') return { by: -n };
  return { to: n };
}

/** A request as the CLI writes it: "8", "+2", "-1". */
export function formatScale(req: ScaleRequest): string {
  return 'to' in req ? String(req.to) : `${req.by >= 0 ? '+' : ''}${req.by}`;
}

/** The answer to turning autoscaling on or off: the state it is now in, or why not. */
export type AutoscaleResult =
  | { ok: true; enabled: boolean; min: number; max: number; workers: number }
  | { ok: false; error: string };
