// A log-scale latency histogram shared by the worker (which fills it, one array increment per
// request) and the supervisor (which sums recent intervals and reads percentiles from them).

/** Buckets per doubling of latency: 4 gives about ±9% resolution. */
const STEPS_PER_DOUBLING = 4;
/** 2^(140/4) µs is about 9.5 hours: anything slower lands in the last bucket. */
export const BUCKETS = 140;

/** The bucket index for a latency given in milliseconds. */
export function bucketOf(ms: number): number {
  const us = ms * 1000;
  if (!(us >= 1)) return 0;
  const i = Math.floor(Math.log2(us) * STEPS_PER_DOUBLING);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The representative latency in milliseconds of a bucket (the middle of its range). */
export function bucketValue(bucket: number): number {
  return 2 ** ((bucket + 0.5) / STEPS_PER_DOUBLING) / 1000;
}

/** Sparse form sent in heartbeats: [bucket, count] pairs for the non-empty buckets. */
export type SparseHistogram = Array<[number, number]>;

/** Turns a dense bucket array into its sparse form and zeroes it for the next interval. */
export function drain(dense: Uint32Array): SparseHistogram {
  const out: SparseHistogram = [];
  for (let i = 0; i < dense.length; i++) {
    const n = dense[i] ?? 0;
    if (n > 0) {
      out.push([i, n]);
      dense[i] = 0;
    }
  }
  return out;
}

/** The q-quantile (0..1) of the sum of several sparse histograms, or null when they are empty. */
export function quantile(parts: Iterable<SparseHistogram>, q: number): number | null {
  const sum = new Map<number, number>();
  let total = 0;
  for (const part of parts) {
    for (const [b, n] of part) {
      sum.set(b, (sum.get(b) ?? 0) + n);
      total += n;
    }
  }
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const b of [...sum.keys()].sort((x, y) => x - y)) {
    seen += sum.get(b) ?? 0;
    if (seen >= rank) return bucketValue(b);
  }
  return null;
}
