import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ALLOWED_ROUND_TRANSITIONS,
  ALLOWED_STUDY_TRANSITIONS,
  ALLOWED_UPLOAD_TRANSITIONS,
  terminalStatuses,
  type TransitionTable,
} from '../../../coordinator/src/store/states.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The first `stateDiagram-v2` block after the heading `heading` in `file`. */
function diagram(file: string, heading: string): string {
  const text = `\n${readFileSync(path.join(ROOT, file), 'utf8')}`;
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${file} has no heading '${heading}'`);
  const block = /```mermaid\n(stateDiagram-v2\n[\s\S]*?)```/.exec(text.slice(at));
  if (!block?.[1]) throw new Error(`${file}: no state diagram after '${heading}'`);
  return block[1];
}

/** Edges `from → to` of a mermaid state diagram (labels dropped); `[*]` as start or end. */
function edges(mermaid: string): { transitions: string[]; terminal: string[]; states: string[] } {
  const transitions: string[] = [];
  const terminal: string[] = [];
  const states = new Set<string>();
  for (const line of mermaid.split('\n')) {
    const m = /^\s*(\[\*\]|[a-z]+)\s*-->\s*(\[\*\]|[a-z]+)\s*(?::.*)?$/.exec(line);
    if (!m) continue;
    const [, from, to] = m as unknown as [string, string, string];
    if (from !== '[*]') states.add(from);
    if (to !== '[*]') states.add(to);
    if (to === '[*]') terminal.push(from);
    else if (from !== '[*]') transitions.push(`${from} -> ${to}`);
  }
  return { transitions: transitions.sort(), terminal: terminal.sort(), states: [...states].sort() };
}

function tableEdges<S extends string>(table: TransitionTable<S>): string[] {
  return (Object.keys(table) as S[]).flatMap((from) => table[from].map((to) => `${from} -> ${to}`)).sort();
}

const cases: [string, string, string, TransitionTable<string>][] = [
  ['rounds', 'docs/architecture/round-states.md', '## Round', ALLOWED_ROUND_TRANSITIONS],
  ['studies', 'docs/architecture/round-states.md', '## Study', ALLOWED_STUDY_TRANSITIONS],
  ['uploads', 'docs/architecture/upload-states.md', '# Upload states', ALLOWED_UPLOAD_TRANSITIONS],
];

describe('state diagrams in docs/architecture equal the transition tables', () => {
  it.each(cases)('%s', (_name, file, heading, table) => {
    const drawn = edges(diagram(file, heading));
    expect(drawn.transitions).toEqual(tableEdges(table));
    expect(drawn.terminal).toEqual([...terminalStatuses(table)].sort());
    expect(drawn.states).toEqual(Object.keys(table).sort());
  });

  it('parses edges with and without labels, and start and end markers', () => {
    expect(edges('stateDiagram-v2\n  [*] --> a: go\n  a --> b\n  b --> a: back\n  b --> [*]\n')).toEqual({ transitions: ['a -> b', 'b -> a'], terminal: ['b'], states: ['a', 'b'] });
  });
});
