/**
 * Splits a `commandLineParams` string into an argument vector the way a POSIX
 * shell would for plain words and quotes, without running a shell: no
 * variables, globs, pipes or redirections, so nothing in the string can do
 * more than name a program and its arguments.
 *
 * @module
 */

/** A command line that cannot be split (an unterminated quote, say). */
export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandLineError";
  }
}

/**
 * Splits `line` into words. Single quotes keep everything literally; double
 * quotes allow `\"` and `\\`; a backslash outside quotes escapes the next
 * character.
 *
 * @throws {CommandLineError} on an unterminated quote or trailing backslash.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new CommandLineError("unterminated ' quote");
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && (line[j + 1] === '"' || line[j + 1] === "\\")) {
          j++;
        }
        word += line[j];
      }
      if (j >= line.length) throw new CommandLineError('unterminated " quote');
      i = j;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= line.length) {
        throw new CommandLineError("trailing backslash");
      }
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * The name of the program a command line starts (its first word, without
 * the folder); undefined when the line cannot be split or is empty.
 */
export function programName(line: string): string | undefined {
  let words: string[];
  try {
    words = splitCommandLine(line);
  } catch (error) {
    if (error instanceof CommandLineError) return undefined;
    throw error;
  }
  return words[0]?.split(/[\\/]/).pop() || undefined;
}
