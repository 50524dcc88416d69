// A real systemd-style notify socket for tests: a unix datagram socket opened by Debian's Python
// (its socket module; Node has no unix datagrams), printing each message it receives as a JSON
// line. Messages are kept whole, in the order they arrived.

import { spawn } from 'node:child_process';
import { dieWithTest } from './gsup.js';
import { until } from './wait.js';

const RECEIVER = `
import json, socket, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + address[1:] if address.startswith('@') else address)
print(json.dumps({'bound': address}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({'message': data.decode()}), flush=True)
`;

export interface NotifySocket {
  /** The NOTIFY_SOCKET value: a path, or `@name` for an abstract socket. */
  address: string;
  /** Every message so far, as sent (`READY=1\nMAINPID=123\n`). */
  messages: string[];
  /** The messages as field maps, in order. */
  fields(): Array<Record<string, string>>;
  close(): void;
}

/** Parses one notify message into its fields. */
export function parseNotify(message: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of message.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

/** Opens a datagram socket at `address` and resolves once it is bound. */
export async function openNotifySocket(address: string): Promise<NotifySocket> {
  const [file, args] = dieWithTest('/usr/bin/python3', ['-c', RECEIVER, address]);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let bound = false;
  let rest = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { bound?: string; message?: string };
      if (parsed.bound) bound = true;
      if (parsed.message !== undefined) messages.push(parsed.message);
    }
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  await until(`the notify socket ${address} is bound`, () => {
    if (exited) throw new Error(`the notify socket receiver for ${address} exited`);
    return bound;
  });
  return {
    address,
    messages,
    fields: () => messages.map(parseNotify),
    close: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
