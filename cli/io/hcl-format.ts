/**
 * Formats HCL (version 1, the dialect of Vault policies) the way `vault policy fmt` does through HCL's printer:
 * two-space indentation, `key = value` with the `=` of consecutive one-line assignments aligned, lists on one line
 * when they were written on one line (else one item a line with trailing commas), blocks always opened on their
 * own lines, a blank line between top-level items unless both are one-liners on consecutive lines. Comments are
 * kept where they stand. The input must already be valid HCL (check it with the parser first).
 */
export function formatHcl(text: string): string {
  const parser = new Parser(tokenize(text));
  const body = parser.body(true);
  return printBody(body, 0, true).replace(/\n*$/, '\n');
}

interface Token {
  kind: 'word' | 'string' | 'heredoc' | 'comment' | 'punct';
  text: string;
  line: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const push = (kind: Token['kind'], start: number) => {
    const t = text.slice(start, i);
    tokens.push({ kind, text: kind === 'comment' ? t.trimEnd() : t, line });
    line += (t.match(/\n/g) ?? []).length;
  };
  while (i < text.length) {
    const c = text[i]!;
    const start = i;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
      push('comment', start);
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      push('comment', start);
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      push('string', start);
    } else if (text.startsWith('<<', i)) {
      const m = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(text.slice(i));
      const marker = m?.[1] ?? '';
      const end = m ? text.slice(i + m[0].length).search(new RegExp(`^\\s*${marker}\\s*$`, 'm')) : -1;
      if (!m || end < 0) throw new Error(`unterminated heredoc on line ${line}`);
      const close = i + m[0].length + end;
      i = close + text.slice(close).indexOf(marker) + marker.length;
      push('heredoc', start);
    } else if ('{}[]=,'.includes(c)) {
      i++;
      push('punct', start);
    } else {
      while (i < text.length && !/[\s{}[\]=,"#]/.test(text[i]!) && !text.startsWith('//', i) && !text.startsWith('/*', i)) i++;
      push('word', start);
    }
  }
  return tokens;
}

type Value =
  | { kind: 'lit'; text: string }
  | { kind: 'list'; items: Array<{ value: Value; comments: string[]; trailing?: string }>; oneLine: boolean; tail: string[] }
  | { kind: 'object'; body: Item[] };

interface Item {
  keys: string[];
  /** `key = value` (`assign`) or `key "label" { … }` (`block`, its body in `value`). */
  kind: 'assign' | 'block';
  value: Value;
  lead: string[];
  trailing?: string;
  firstLine: number;
  lastLine: number;
  /** Comments after the last item of a block, before its `}`. */
  closing?: string[];
}

class Parser {
  #i = 0;
  constructor(private readonly tokens: Token[]) {}

  #peek(): Token | undefined {
    return this.tokens[this.#i];
  }
  #next(): Token {
    const t = this.tokens[this.#i++];
    if (!t) throw new Error('unexpected end of input');
    return t;
  }
  #lastLine(): number {
    return this.tokens[this.#i - 1]?.line ?? 0;
  }

  body(top: boolean): Item[] & { closing?: string[] } {
    const items: Item[] & { closing?: string[] } = [];
    let lead: string[] = [];
    for (;;) {
      const t = this.#peek();
      if (!t || (!top && t.text === '}' && t.kind === 'punct')) {
        items.closing = lead;
        return items;
      }
      if (t.kind === 'comment') {
        this.#next();
        lead.push(t.text);
        continue;
      }
      const item = this.#item(lead);
      lead = [];
      const after = this.#peek();
      if (after?.kind === 'punct' && after.text === ',') this.#next();
      const c = this.#peek();
      if (c?.kind === 'comment' && c.line === item.lastLine) item.trailing = this.#next().text;
      items.push(item);
    }
  }

  #item(lead: string[]): Item {
    const first = this.#peek()!;
    const keys: string[] = [];
    while (this.#peek() && (this.#peek()!.kind === 'word' || this.#peek()!.kind === 'string')) keys.push(this.#next().text);
    const t = this.#next();
    if (t.text === '=') {
      const value = this.#value();
      return { keys, kind: 'assign', value, lead, firstLine: first.line, lastLine: this.#lastLine() };
    }
    if (t.text === '{') {
      const body = this.body(false);
      this.#next();
      return {
        keys,
        kind: 'block',
        value: { kind: 'object', body },
        lead,
        firstLine: first.line,
        lastLine: this.#lastLine(),
        closing: body.closing ?? [],
      };
    }
    throw new Error(`unexpected "${t.text}" on line ${t.line}`);
  }

  #value(): Value {
    const t = this.#next();
    if (t.text === '[' && t.kind === 'punct') {
      const items: Array<{ value: Value; comments: string[]; trailing?: string }> = [];
      let comments: string[] = [];
      let lastLine = t.line;
      for (;;) {
        const n = this.#peek();
        if (!n) throw new Error('unterminated list');
        const last = items[items.length - 1];
        if (n.kind === 'comment' && last && !last.trailing && n.line === lastLine) last.trailing = this.#next().text;
        else if (n.kind === 'comment') comments.push(this.#next().text);
        else if (n.kind === 'punct' && n.text === ',') this.#next();
        else if (n.kind === 'punct' && n.text === ']') {
          const close = this.#next();
          return { kind: 'list', items, oneLine: close.line === t.line && comments.length === 0 && items.every((i) => !i.trailing), tail: comments };
        } else {
          items.push({ value: this.#value(), comments });
          comments = [];
          lastLine = this.#lastLine();
        }
      }
    }
    if (t.text === '{' && t.kind === 'punct') {
      const body = this.body(false);
      this.#next();
      return { kind: 'object', body };
    }
    return { kind: 'lit', text: t.text };
  }
}

const pad = (level: number) => '  '.repeat(level);

function printValue(value: Value, level: number): string {
  if (value.kind === 'lit') return value.text;
  if (value.kind === 'object') {
    if (value.body.length === 0) return '{}';
    return `{\n${printBody(value.body, level + 1, false)}${pad(level)}}`;
  }
  if (value.oneLine) return `[${value.items.map((i) => printValue(i.value, level)).join(', ')}]`;
  const lines = value.items.flatMap((i) => [
    ...i.comments.map((c) => `${pad(level + 1)}${c}`),
    `${pad(level + 1)}${printValue(i.value, level + 1)},${i.trailing ? ` ${i.trailing}` : ''}`,
  ]);
  lines.push(...value.tail.map((c) => `${pad(level + 1)}${c}`));
  return `[\n${lines.join('\n')}\n${pad(level)}]`;
}

function printItem(item: Item, level: number, keyWidth: number): string {
  const lead = item.lead.map((c) => `${pad(level)}${c}\n`).join('');
  const key = item.keys.join(' ');
  let text: string;
  if (item.kind === 'assign') {
    text = `${key.padEnd(keyWidth)} = ${printValue(item.value, level)}`;
  } else {
    const body = (item.value as { body: Item[] }).body;
    const closing = (item.closing ?? []).map((c) => `${pad(level + 1)}${c}\n`).join('');
    text = body.length === 0 && closing === '' ? `${key} {}` : `${key} {\n${printBody(body, level + 1, false)}${closing}${pad(level)}}`;
  }
  return `${lead}${pad(level)}${text}${item.trailing ? ` ${item.trailing}` : ''}`;
}

const oneLine = (item: Item) => item.kind === 'assign' && !printValue(item.value, 0).includes('\n');

function printBody(items: Item[] & { closing?: string[] }, level: number, top: boolean): string {
  let out = '';
  let group: Item[] = [];
  const widths = new Map<Item, number>();
  // Consecutive one-line assignments on consecutive lines share one `=` column, as HCL's printer aligns them.
  const flush = () => {
    const width = Math.max(0, ...group.map((g) => g.keys.join(' ').length));
    for (const g of group) widths.set(g, width);
    group = [];
  };
  items.forEach((item, i) => {
    const prev = items[i - 1];
    if (!oneLine(item) || item.lead.length > 0 || (prev && (!oneLine(prev) || item.firstLine !== prev.lastLine + 1))) flush();
    if (oneLine(item)) group.push(item);
    else flush();
  });
  flush();
  items.forEach((item, i) => {
    const prev = items[i - 1];
    if (prev) {
      const gap = item.firstLine - item.lead.length > prev.lastLine + 1;
      const separate = top ? gap || !oneLine(prev) || !oneLine(item) || item.lead.length > 0 : gap;
      out += separate ? '\n' : '';
    }
    out += `${printItem(item, level, widths.get(item) ?? 0)}\n`;
  });
  if (top && items.closing && items.closing.length > 0) out += `${out ? '\n' : ''}${items.closing.join('\n')}\n`;
  return out;
}
