// Finds every gsup command line quoted in a Markdown document, so a test can run each one and no
// documented command rots: shell blocks, systemd ExecStart/ExecReload lines, Dockerfile CMD
// arrays, and inline `gsup ...` spans. Templates (NAME, FILE[:EXPORT], a | b) are left out.

import { splitArgs } from '../dist/config/load.js';

export interface DocCommand {
  /** The arguments after `gsup`. */
  argv: string[];
  /** The text it was read from, for failure messages. */
  quoted: string;
}

const VERB = /^(start|demo|check|status|scale|reload|stop|top)$/;

/** Every runnable gsup command line in `markdown`. */
export function docCommands(markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  const add = (text: string) => {
    for (const part of text.split(/&&|;|\|\|/)) {
      const argv = gsupArgv(part.trim());
      if (argv) found.push({ argv, quoted: part.trim() });
    }
  };
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const open = /^```(\w*)/.exec(line);
    if (open) {
      fence = fence === null ? (open[1] ?? '') : null;
      continue;
    }
    if (fence !== null) {
      const exec = /^Exec(?:Start|Reload)=(.*)$/.exec(line);
      const cmd = /^(?:CMD|ENTRYPOINT) (\[.*\])\s*$/.exec(line);
      if (exec?.[1]) add(exec[1]);
      else if (cmd?.[1]) add(shellQuote(JSON.parse(cmd[1]) as string[]));
      else if (fence === 'sh' || fence === 'bash' || fence === 'console') add(line);
      continue;
    }
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      const span = (m[1] ?? '').replace(/^Exec(?:Start|Reload)=/, '');
      if (/^(npx )?(\S*\/)?gsup /.test(span)) add(span);
    }
  }
  return found;
}

/** The argv after gsup when `text` runs gsup (`gsup`, `npx gsup`, or a path ending in /gsup). */
function gsupArgv(text: string): string[] | null {
  const bare = text.replace(/^\$ /, '').replace(/\s+#.*$/, '');
  let words: string[];
  try {
    words = splitArgs(bare);
  } catch {
    return null;
  }
  if (words[0] === 'npx') words.shift();
  if (!words[0] || !/(^|\/)gsup$/.test(words[0])) return null;
  const argv = words.slice(1);
  if (!argv[0] || !VERB.test(argv[0])) return null;
  // A template, not a command: placeholders in capitals, optional parts, alternatives.
  if (argv.some((w) => /^[A-Z][A-Z_]*$|[[\]|]|\.\.\./.test(w))) return null;
  return argv;
}

function shellQuote(words: string[]): string {
  return words
    .map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`))
    .join(' ');
}
