/**
 * An independent implementation of how a Windows program splits its command
 * line (`CommandLineToArgvW` / the MSVC runtime since 2008), to check what
 * the service's `binaryPathName` will look like to `webstream.exe`.
 *
 * @module
 */

/**
 * Splits `line` as Windows does: the program name up to the closing quote
 * (no escapes) or the first blank; then arguments separated by blanks, where
 * 2n backslashes before a quote give n and toggle quoting, 2n+1 give n and a
 * literal quote, backslashes elsewhere are literal, and `""` inside quotes
 * is a literal quote.
 */
export function windowsArgv(line: string): string[] {
  const args: string[] = [];
  const blank = (c: string | undefined) => c === " " || c === "\t";
  let i = 0;
  if (line[0] === '"') {
    const end = line.indexOf('"', 1);
    args.push(line.slice(1, end < 0 ? line.length : end));
    i = end < 0 ? line.length : end + 1;
  } else {
    while (i < line.length && !blank(line[i])) i++;
    args.push(line.slice(0, i));
  }
  for (;;) {
    while (blank(line[i])) i++;
    if (i >= line.length) return args;
    let arg = "";
    let quoted = false;
    while (i < line.length && (quoted || !blank(line[i]))) {
      let n = 0;
      while (line[i] === "\\") {
        n++;
        i++;
      }
      if (line[i] === '"') {
        arg += "\\".repeat(n >> 1);
        if (n % 2) {
          arg += '"';
          i++;
        } else if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          i++;
        }
      } else {
        arg += "\\".repeat(n);
        if (n === 0) arg += line[i++];
      }
    }
    args.push(arg);
  }
}
