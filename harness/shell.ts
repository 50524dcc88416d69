// Shell quoting for commands that are recorded (bench results) or run through a shell (tmux).

/** Shell-quotes an argv, so the line can be pasted or run as is. */
export function shellLine(argv: Array<string | number>): string {
  return argv
    .map(String)
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
}
