/**
 * hexdump -C style text of bytes (the NVM), for the CLI's `step nvm` and the lab's panel: 16
 * bytes a line, runs of identical lines collapsed to `*`. Pure: no DOM, no Node.
 */
export interface HexDumpOptions {
  /** Hex digits of each line's offset (hexdump's 8; the lab's small NVM needs 4). Default 8. */
  offsetDigits?: number;
  /** End with the length, as hexdump does. Default true. */
  total?: boolean;
}

export function hexDump(bytes: Uint8Array, opts: HexDumpOptions = {}): string {
  const digits = opts.offsetDigits ?? 8;
  const lines: string[] = [];
  let previous = '';
  let starred = false;
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    if (hex === previous && off + 16 < bytes.length) {
      if (!starred) lines.push('*');
      starred = true;
      continue;
    }
    previous = hex;
    starred = false;
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(digits, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  if (opts.total ?? true) lines.push(bytes.length.toString(16).padStart(digits, '0'));
  return lines.join('\n');
}
