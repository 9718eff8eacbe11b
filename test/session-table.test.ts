/** The proxy's client table: bounded, least recently active evicted first, idle entries aged out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionTable } from '../src/session-table.js';

test('a full table evicts the least recently active entry', () => {
  const t = new SessionTable<string>({ maxEntries: 3, idleMs: 1000 });
  const evicted: string[] = [];
  const onEvict = (v: string, reason: string): number => evicted.push(`${v}:${reason}`);
  t.add('a', 'A', 0, onEvict);
  t.add('b', 'B', 1, onEvict);
  t.add('c', 'C', 2, onEvict);
  assert.equal(t.touch('a', 3), 'A'); // a is now the most recent
  t.add('d', 'D', 4, onEvict);
  assert.deepEqual(evicted, ['B:table-full']);
  assert.equal(t.size, 3);
  assert.deepEqual([...t.values()], ['C', 'A', 'D']);
  assert.equal(t.peek('b'), undefined);
});

test('sweep evicts exactly the entries idle for idleMs or more', () => {
  const t = new SessionTable<string>({ maxEntries: 10, idleMs: 100 });
  const evicted: string[] = [];
  const ignore = (): void => undefined;
  t.add('a', 'A', 0, ignore);
  t.add('b', 'B', 50, ignore);
  t.add('c', 'C', 60, ignore);
  t.touch('a', 70);
  t.sweep(149, (v, r) => evicted.push(`${v}:${r}`));
  assert.equal(evicted.length, 0);
  t.sweep(150, (v, r) => evicted.push(`${v}:${r}`));
  assert.deepEqual(evicted, ['B:idle']);
  t.sweep(170, (v, r) => evicted.push(`${v}:${r}`));
  assert.deepEqual(evicted, ['B:idle', 'C:idle', 'A:idle']);
  assert.equal(t.size, 0);
});

test('bounds are validated', () => {
  assert.throws(() => new SessionTable({ maxEntries: 0, idleMs: 1 }), /maxEntries/);
  assert.throws(() => new SessionTable({ maxEntries: 1, idleMs: 0 }), /idleMs/);
});
