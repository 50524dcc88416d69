// Runs in the supervisor: the stuck stack of a worker whose app listens for SIGINT (which turns
// --trace-sigint off). SIGUSR1 has opened the worker's inspector on 127.0.0.1; this connects,
// pauses the main thread (Debugger.pause interrupts even a busy loop) and reads its call frames.

import WebSocket from 'ws';

/** A call frame as Debugger.paused reports it (0-based line and column). */
interface CallFrame {
  functionName?: string;
  url?: string;
  location?: { scriptId?: string; lineNumber?: number; columnNumber?: number };
}

/** The paused message carries scopes too; a deep stack is large, but not this large. */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** True for the inspector URL Node prints: ws:// on a loopback address. Anything else is not ours to dial. */
export function isLoopbackInspector(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'ws:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

/** Frames as --trace-sigint prints them, `fn (file:line:col)`, innermost first. */
export function formatFrames(frames: readonly CallFrame[], scripts: Map<string, string>): string[] {
  return frames.map((f) => {
    const url = f.url || scripts.get(f.location?.scriptId ?? '') || '<unknown>';
    const where = `${url}:${(f.location?.lineNumber ?? 0) + 1}:${(f.location?.columnNumber ?? 0) + 1}`;
    return f.functionName ? `${f.functionName} (${where})` : where;
  });
}

/**
 * Pauses the process behind `wsUrl` and returns its JS stack, or null if that did not happen
 * within `timeoutMs` (refused, closed, an idle loop that never pauses). Never rejects; the socket
 * is always closed.
 */
export function captureStack(wsUrl: string, timeoutMs: number): Promise<string[] | null> {
  return new Promise((resolve) => {
    if (!isLoopbackInspector(wsUrl) || timeoutMs <= 0) {
      resolve(null);
      return;
    }
    let ws: WebSocket | null = null;
    let done = false;
    const finish = (frames: string[] | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        ws?.terminate();
      } catch {
        // closing a socket that never opened: nothing to free
      }
      resolve(frames);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    timer.unref();
    // Debugger.enable reports every script first: the paused frames name scripts by id.
    const scripts = new Map<string, string>();
    try {
      ws = new WebSocket(wsUrl, { handshakeTimeout: timeoutMs, maxPayload: MAX_MESSAGE_BYTES });
    } catch {
      finish(null);
      return;
    }
    ws.on('open', () => {
      ws?.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
      ws?.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
    });
    ws.on('message', (data) => {
      let msg: { method?: string; params?: Record<string, unknown> };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return;
      }
      const params = msg.params ?? {};
      if (msg.method === 'Debugger.scriptParsed') {
        if (typeof params.scriptId === 'string' && typeof params.url === 'string') {
          scripts.set(params.scriptId, params.url);
        }
      } else if (msg.method === 'Debugger.paused') {
        const frames = Array.isArray(params.callFrames) ? (params.callFrames as CallFrame[]) : [];
        finish(formatFrames(frames, scripts));
      }
    });
    ws.on('error', () => finish(null));
    ws.on('close', () => finish(null));
  });
}
