// `gsup start APP`: validates the input, binds, runs the pool, and wires the signals (one of the
// three front doors) to the supervisor's commands.

import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { checkAppFor } from '../app-spec.js';
import { IGNORED_SIGNALS, type Pool, signalBindings } from '../commands.js';
import { type Resolved, resolveStart } from '../config/load.js';
import { ConfigError, startHelp } from '../config/parse.js';
import { restartNotes } from '../config/reload.js';
import { controlPath } from '../control/paths.js';
import { ControlDirError, ControlError, ControlServer } from '../control/server.js';
import type { Dashboard } from '../dashboard/dashboard.js';
import { EXIT_FAILURE, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { reapOrphansAsInit } from '../pid1/reaper.js';
import { BindError } from '../supervisor/listener.js';
import { type ReexecProvider, Supervisor } from '../supervisor/supervisor.js';
import { systemdFromEnv } from '../systemd/systemd.js';
import { attachHooks, frozenSnapshot } from './hooks.js';
import { Logger } from './logger.js';
import { supervisorOptions } from './options.js';
import { actAsSuccessor, readInheritance, tellPredecessor } from './successor.js';

/**
 * The supervisor allocates little and keeps less; V8's young generation would still grow from
 * 1 MB to 16 MB per semi-space under the steady trickle of heartbeats and snapshots, RSS that is
 * never given back. A growth factor of 1 keeps it at its start size. (--max-semi-space-size is
 * read only at start-up; the growth factor is read each time V8 considers growing, so setting it
 * here works.)
 */
const SUPERVISOR_V8_FLAGS = '--semi-space-growth-factor=1';

export async function start(argv: string[]): Promise<number> {
  setFlagsFromString(SUPERVISOR_V8_FLAGS);
  // Read first and taken out of the environment: no worker, and no later upgrade, inherits it.
  const inheritance = readInheritance(process.env);
  if (typeof inheritance === 'string') return usage(inheritance);
  const env = process.env;
  const cwd = process.cwd();
  let resolved: Resolved;
  try {
    resolved = await resolveStart(argv, env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return usage(err.message);
    throw err;
  }
  if (resolved.help) {
    process.stdout.write(`${startHelp(helpWidth())}\n`);
    return EXIT_OK;
  }
  const { config } = resolved;
  const appArg = resolved.app;
  if (!appArg) {
    return usage(
      'start: which app? e.g. gsup start examples/hello.js, or app in the config file (see gsup start --help)',
    );
  }
  if (config.umask !== null) process.umask(config.umask);
  if (config.chdir) {
    try {
      process.chdir(config.chdir);
    } catch (err) {
      return usage(
        `chdir: cannot change to ${config.chdir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const wrong = checkAppFor(config, appArg, process.cwd());
  if (wrong) return usage(wrong);
  const options = supervisorOptions(resolved, appArg, env, process.cwd());
  if (typeof options === 'string') return usage(options);
  if (config.logFile) {
    try {
      closeSync(openSync(config.logFile, 'a'));
    } catch (err) {
      return usage(
        `log-file: cannot open ${config.logFile} for appending: ${(err as Error).message}`,
      );
    }
  }

  if (config.accessLog && config.accessLog !== '-') {
    try {
      closeSync(openSync(config.accessLog, 'a'));
    } catch (err) {
      return usage(
        `access-log: cannot open ${config.accessLog} for appending: ${(err as Error).message}`,
      );
    }
  }

  // The dashboard owns the terminal when there is one; otherwise (or with --no-tui) log lines.
  const useTui = config.tui && process.stdout.isTTY === true && process.stdin.isTTY === true;
  if (useTui && config.accessLog === '-') {
    return usage(
      'access-log: - writes to the terminal the dashboard draws on; give a file (--access-log access.log), or add --no-tui',
    );
  }
  const logFormat = config.logFormat === 'json' ? 'json' : 'text';
  const newLogger = () => new Logger(config.logFile, process.stdout, logFormat);
  let logger: Logger | null = useTui && !config.logFile ? null : newLogger();
  // blessed is loaded only when the dashboard will start: a headless supervisor never pays its
  // memory (about 9 MB). Loading begins now, alongside the pool's start.
  const dashboardModule = useTui ? import('../dashboard/dashboard.js') : null;
  // Handled where it is awaited; a start that fails first must not leave it unhandled.
  dashboardModule?.catch(() => undefined);
  let hooks = resolved.hooks;
  // Every reload door re-reads the config: a changed file applies, a broken one is refused. The
  // new hooks take over only once the supervisor has applied the new options (accept).
  const reloadConfig = async () => {
    try {
      const next = await resolveStart(argv, env, cwd);
      const app = next.app ?? appArg;
      const nextOptions = supervisorOptions(next, app, env, process.cwd());
      if (typeof nextOptions === 'string') return nextOptions;
      return {
        options: nextOptions,
        accept: () => {
          hooks = next.hooks;
        },
        // 'restart' settings keep the value gsup started with: compare against that.
        notes: restartNotes(config, next.config),
      };
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
  };
  // USR2, `gsup upgrade`: the same command line, run again from where gsup was started.
  let drawing = useTui;
  let promoted = inheritance === null;
  const reexec: ReexecProvider = () => {
    if (drawing) {
      return 'the terminal dashboard is on, and a new gsup cannot take this terminal over; run gsup headless (--no-tui, or under a service manager) to upgrade it in place, or use HUP / gsup reload for new app code';
    }
    if (!promoted) {
      return `this gsup is the new one of an upgrade still under way (the old one is pid ${inheritance?.from})`;
    }
    if (process.pid === 1) {
      return "gsup is PID 1 (a container's init), and its exit would end the container with the new gsup in it; roll out a new container instead";
    }
    const script = process.argv[1];
    if (!script)
      return 'cannot tell which gsup script runs this process (process.argv[1] is empty)';
    return {
      file: process.execPath,
      args: [...process.execArgv, script, 'start', ...argv],
      cwd,
      env: { ...process.env },
    };
  };
  const sup = new Supervisor(
    { ...options, reloadConfig },
    { reexec, ...(inheritance ? { inherited: inheritance } : {}) },
  );
  const attachLogger = (l: Logger) => {
    sup.on('event', (e) => l.event(e));
    sup.on('output', (o) => l.output(o));
  };
  if (logger) attachLogger(logger);
  process.title = `gsup: ${config.name} ${appArg}`;
  // Under systemd (NOTIFY_SOCKET) and as PID 1 in a container: see src/systemd/ and src/pid1/.
  const systemd = systemdFromEnv(sup, env, (text) => sup.warn(text));
  const reaper = reapOrphansAsInit();
  if (typeof reaper === 'string') sup.warn(reaper);

  // The signal front door, as Gunicorn users know it, read off the command table. Installed
  // before anything slow happens, so a signal during start-up is a command, not the default
  // action (death or suspension).
  const pool: Pool = {
    scale: (req) => sup.scale(req),
    reload: () => sup.reload(),
    stop: (opts) => sup.stop(opts),
    recycle: (pid, why) => sup.recycle(pid, why),
    kill: (pid) => sup.kill(pid),
    autoscale: (on) => sup.autoscale(on),
    snapshot: () => sup.snapshot(),
    // The log file is this process's; the access logs are the workers'.
    reopenLogs: () => {
      logger?.reopen();
      sup.reopenLogs();
    },
    upgrade: () => sup.upgrade(),
  };
  for (const { signal, command, args } of signalBindings()) {
    process.on(signal, () => void command.run(pool, args, 'signal'));
  }
  // A signal gsup does not act on must not take the pool down by its default action.
  for (const { signal, why, warn } of IGNORED_SIGNALS) {
    process.on(signal, () => sup.signalIgnored(signal, why, warn));
  }

  // Refusals come before anything starts: a live pidfile, a name in use, an address in use. An
  // upgrade's new gsup claims the pidfile when it takes over.
  const claimed = config.pidfile && !inheritance ? claimPidfile(config.pidfile) : null;
  if (typeof claimed === 'string') return failure(claimed);
  let pidfile = claimed;
  const control = config.controlEnabled
    ? new ControlServer(sup, controlPath(config.name, config.control), config.name)
    : null;
  // prom-client is loaded only when --metrics asks for it.
  let metrics: { close(): void } | null = null;
  const release = () => {
    systemd?.close();
    metrics?.close();
    control?.close();
    pidfile?.release();
  };
  sup.on('event', (e) => {
    if (e.type !== 'upgrade-done') return;
    // The new supervisor is the main one from now on: systemd hears its pid from us (before our
    // own exit), and hears nothing more from this one (no STOPPING=1, no watchdog pings). Our
    // metrics address goes to the new one, which binds it once we let go.
    systemd?.notify({ MAINPID: e.newPid });
    systemd?.close();
    metrics?.close();
    metrics = null;
  });
  const serveMetrics = async (): Promise<string | null> => {
    if (!config.metrics) return null;
    const served = await (await import('../metrics/index.js')).serveMetrics(
      sup,
      config.metrics,
      options.binds,
    );
    if (typeof served === 'string') return served;
    metrics = served;
    return null;
  };
  attachHooks(
    sup,
    () => hooks,
    (message) => sup.warn(message),
  );
  if (inheritance) {
    actAsSuccessor(sup, inheritance.from, () => {
      try {
        control?.promote();
      } catch (err) {
        return `the new gsup cannot take over the control socket ${control?.path}: ${(err as Error).message}`;
      }
      if (config.pidfile) {
        const taken = claimPidfile(config.pidfile, inheritance.from);
        if (typeof taken === 'string') sup.warn(taken);
        else pidfile = taken;
      }
      promoted = true;
      sup.tookOver(inheritance.from);
      return null;
    });
  }
  try {
    if (hooks.onStarting) {
      try {
        await hooks.onStarting(frozenSnapshot(sup));
      } catch (err) {
        release();
        return failure(
          `onStarting hook threw: ${err instanceof Error ? err.message : String(err)}; not starting`,
        );
      }
    }
    const { replacedStale } = (await control?.listen({ staging: inheritance !== null })) ?? {
      replacedStale: false,
    };
    if (inheritance && config.metrics) {
      // The old supervisor serves the metrics address until it hands over: bind it once it has.
      sup.on('event', (e) => {
        if (e.type === 'upgrade-took-over') void takeMetricsOver(serveMetrics, (m) => sup.warn(m));
      });
    } else {
      // Before the pool starts: an address in use refuses the start, and every worker is counted.
      const refused = await serveMetrics();
      if (refused) {
        release();
        return failure(refused);
      }
    }
    await sup.start();
    if (replacedStale) logger?.line('info', `replaced a stale control socket at ${control?.path}`);
  } catch (err) {
    release();
    // Exit 2 like any other bad setting: under Restart=on-failure with RestartPreventExitStatus=2
    // a missing home is not a restart loop.
    if (err instanceof ControlDirError) return usage(err.message);
    if (err instanceof BindError || err instanceof ControlError) return failure(err.message);
    throw err;
  }
  const version = sup.snapshot().versions.gsup;
  const from = inheritance ? ` (upgrading the gsup with pid ${inheritance.from})` : '';
  logger?.line(
    'info',
    `gsup ${version} (pid ${process.pid}) serving ${appArg} with ${workersText(sup.snapshot().target)}${from}`,
  );

  let dashboard: Dashboard | null = null;
  if (dashboardModule) {
    const { Dashboard } = await dashboardModule;
    dashboard = new Dashboard({
      source: sup,
      commands: sup,
      name: config.name,
      onError: (err) => {
        // The pool keeps running, and the person keeps a view of it.
        dashboard = null;
        drawing = false;
        if (!logger) {
          logger = newLogger();
          attachLogger(logger);
        }
        const why = err instanceof Error ? err.message : String(err);
        logger.line('error', `the dashboard failed (${why}); continuing with log lines`);
      },
      onTerminalLost: () => {
        // Like any foreground program whose terminal closes: stop, gracefully.
        dashboard?.destroy();
        dashboard = null;
        drawing = false;
        void sup.stop();
      },
    });
    dashboard.start();
  }
  process.on('uncaughtException', (err) => {
    // Node parses worker IPC frames outside any code of ours: app code that writes raw bytes onto
    // its channel fd makes that parser throw here. Not our bug, and not worth the pool: say so and
    // carry on; that worker's heartbeats may be lost, so the timeout replaces it if it goes silent.
    if (err.stack?.includes('internal/child_process/serialization')) {
      sup.warn(`a worker wrote garbage onto its IPC channel (fd 3): ${err.message}`);
      return;
    }
    // A bug in gsup itself: give the terminal back before saying so.
    dashboard?.destroy();
    process.stderr.write(`gsup: internal error: ${err.stack ?? String(err)}\n`);
    process.exit(EXIT_INTERNAL);
  });

  const code = await sup.done;
  release();
  if (dashboard) {
    dashboard.destroy();
    // The screen is gone: leave the person the errors that explain why it stopped, if any.
    for (const e of sup
      .snapshot()
      .events.filter((x) => x.level === 'error')
      .slice(-5)) {
      process.stderr.write(`gsup: ${e.message}\n`);
    }
    process.stdout.write(`gsup stopped (exit ${code})\n`);
  }
  await logger?.flush();
  return code;
}

function failure(message: string): number {
  tellPredecessor(message);
  process.stderr.write(`gsup: ${message}\n`);
  return EXIT_FAILURE;
}

/**
 * Writes our pid to `path`, or says why not (it names a live process). Gunicorn's --pid, same
 * rules; an upgrade's new gsup takes the file over from the old one (`predecessor`).
 */
function claimPidfile(path: string, predecessor?: number): { release: () => void } | string {
  let recorded: number | null = null;
  try {
    recorded = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    recorded = null;
  }
  if (recorded && recorded !== process.pid && recorded !== predecessor && isRunning(recorded)) {
    return `pidfile ${path} records pid ${recorded}, which is running (another gsup?); stop it or remove the file`;
  }
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    return `cannot write pidfile ${path}: ${(err as Error).message}`;
  }
  return {
    release: () => {
      try {
        if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
      } catch {
        // gone already
      }
    },
  };
}

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

function usage(message: string): number {
  tellPredecessor(message);
  process.stderr.write(`gsup: ${message}\n`);
  return EXIT_USAGE;
}

/** How long an upgrade's new supervisor tries to bind the metrics address the old one holds. */
const METRICS_TAKEOVER_MS = 30_000;

/** Binds the metrics address once the old supervisor of an upgrade lets go of it. */
async function takeMetricsOver(
  serve: () => Promise<string | null>,
  warn: (message: string) => void,
): Promise<void> {
  const deadline = Date.now() + METRICS_TAKEOVER_MS;
  for (;;) {
    const refused = await serve();
    if (!refused) return;
    if (Date.now() > deadline) {
      warn(`${refused}; the metrics stay off until the next start`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function workersText(n: number): string {
  return `${n} worker${n === 1 ? '' : 's'}`;
}

/** The width help wraps to: the terminal's (stderr's when stdout is a pipe), else $COLUMNS, else 100. */
function helpWidth(): number {
  const columns =
    process.stdout.columns || process.stderr.columns || Number(process.env.COLUMNS) || 100;
  return Math.max(40, columns);
}
