// Reduces the rounds of one setup and mode to the figures reported.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, min and max req/s, median p50 and p99 and total errors over the rounds. */
export function summarise(runs) {
  const rps = runs.map((r) => r.rps);
  return {
    rounds: runs.length,
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    socketErrors: runs.reduce((sum, r) => sum + r.socketErrors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
  };
}
