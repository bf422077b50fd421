import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

type Input = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/**
 * Asks for a secret without echoing it. On a terminal the input is read in raw mode, character by character; from
 * a pipe one line is read. The answer never appears on screen, in argv or in shell history.
 */
export async function promptHidden(question: string, input: Input, output: Writable): Promise<string> {
  if (!input.isTTY || !input.setRawMode) {
    output.write(question);
    return readLine(input);
  }
  const setRawMode = input.setRawMode.bind(input);
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new Error('interrupted'));
        if (ch === '\u0004' && answer === '') return finish(new Error('no input'));
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else if (ch >= ' ') answer += ch;
      }
    };
    // Echo goes off before the prompt shows: a share typed (or pasted) the moment the prompt appears is not echoed.
    setRawMode(true);
    output.write(question);
    input.resume();
    input.on('data', onData);
  });
}

/** Asks a question whose answer may be seen (a confirmation), and returns the line typed. */
export async function promptLine(question: string, input: Input, output: Writable): Promise<string> {
  output.write(question);
  return readLine(input);
}

/** All of standard input, for a secret given as `-`. */
export async function readAll(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function readLine(input: Readable): Promise<string> {
  const rl = createInterface({ input, terminal: false });
  try {
    for await (const line of rl) return line;
    throw new Error('no input');
  } finally {
    rl.close();
  }
}
