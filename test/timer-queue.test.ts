/** The one sorted queue of delayed datagrams: earliest first, FIFO for equal times. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TimerQueue } from '../src/impair/timer-queue.js';

test('pops in time order, equal times in insertion order, only when due', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
      const q = new TimerQueue<number>();
      times.forEach((t, i) => q.push(t, i));
      assert.equal(q.size, times.length);
      const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i);
      const got: { t: number; i: number }[] = [];
      for (let now = 0; now <= 50; now++) {
        for (let e = q.popDue(now); e !== undefined; e = q.popDue(now)) {
          assert.ok(e.at <= now);
          got.push({ t: e.at, i: e.item });
        }
        const next = q.peekTime();
        assert.ok(next === undefined || next > now);
      }
      assert.deepEqual(got, expected);
      assert.equal(q.size, 0);
    }),
  );
});

test('interleaved pushes and pops stay sorted', () => {
  const q = new TimerQueue<string>();
  q.push(10, 'a');
  q.push(5, 'b');
  assert.equal(q.popDue(7)?.item, 'b');
  q.push(6, 'c');
  q.push(10, 'd');
  assert.equal(q.peekTime(), 6);
  assert.deepEqual([q.popDue(10)?.item, q.popDue(10)?.item, q.popDue(10)?.item], ['c', 'a', 'd']);
  assert.equal(q.popDue(100), undefined);
});
