// Samples one process once a second: its RSS every time, its CPU time at the edges of the
// measurement window. Only the process itself is counted (utime + stime), never its children,
// so for gsup this is the supervisor's own cost and not its workers'.

import { performance } from 'node:perf_hooks';
import { cpuTicks, isAlive, rssKb } from '../harness/procfs.js';
import { sleep } from '../harness/wait.js';

export interface ProcessSample {
  cpuPercent: number;
  cpuSeconds: number;
  windowSeconds: number;
  rssMaxMb: number;
  ticksPerSample: number[];
  rssKb: number[];
}

/**
 * Samples `pid` for `warmup` + `window` seconds. CPU % (of one core) covers the window only, so
 * the first seconds of load (JIT, first chart draws, buffers growing) do not count; the RSS
 * maximum covers both, since memory reached during warm-up is still memory used.
 */
export async function sampleProcess(
  pid: number,
  { warmup, window, ticksPerSecond }: { warmup: number; window: number; ticksPerSecond: number },
): Promise<ProcessSample> {
  const samples: Array<{ t: number; ticks: number; rssKb: number }> = [];
  const t0 = performance.now();
  for (let i = 0; i <= warmup + window; i++) {
    // Scheduled against t0, so the samples do not drift by the time each one takes.
    await sleep(Math.max(0, t0 + i * 1000 - performance.now()));
    const ticks = cpuTicks(pid);
    const rss = rssKb(pid);
    if (ticks === null || rss === null || !isAlive(pid)) {
      throw new Error(`the supervisor (pid ${pid}) exited during the measurement`);
    }
    samples.push({ t: performance.now(), ticks, rssKb: rss });
  }
  const inWindow = samples.slice(warmup);
  const first = inWindow[0];
  const last = inWindow.at(-1);
  if (!first || !last) throw new Error('no samples in the window');
  const seconds = (last.t - first.t) / 1000;
  const cpuSeconds = (last.ticks - first.ticks) / ticksPerSecond;
  return {
    cpuPercent: (cpuSeconds / seconds) * 100,
    cpuSeconds,
    windowSeconds: seconds,
    rssMaxMb: Math.max(...samples.map((s) => s.rssKb)) / 1024,
    // Kept for the JSON: spikes (a chart redraw, a GC) hide in an average.
    ticksPerSample: inWindow.slice(1).map((s, i) => s.ticks - (inWindow[i]?.ticks ?? s.ticks)),
    rssKb: samples.map((s) => s.rssKb),
  };
}
