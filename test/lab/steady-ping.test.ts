// The failover figures of the route-based BGP lab come from ping's own output: replies by icmp_seq
// with their -D timestamps, runs of missing replies timed by the replies around them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lossRuns, parsePing } from '../../lab/route-based/steady-ping.ts';

const reply = (t: number, seq: number) =>
  `[${(t / 1000).toFixed(6)}] 64 bytes from 10.2.0.2: icmp_seq=${seq} ttl=62 time=1.20 ms`;

test('parsePing: replies by icmp_seq with their timestamps, the transmitted total', () => {
  const text = [
    'PING 10.2.0.2 (10.2.0.2) from 10.1.0.2 : 56(84) bytes of data.',
    reply(1_000_000, 1),
    reply(1_000_100, 2),
    '[1000000.300000] no answer yet for icmp_seq=3',
    reply(1_000_400, 5),
    '',
    '--- 10.2.0.2 ping statistics ---',
    '5 packets transmitted, 3 received, 40% packet loss, time 400ms',
  ].join('\n');
  const { replies, transmitted } = parsePing(text);
  assert.equal(transmitted, 5);
  assert.deepEqual(
    [...replies.entries()],
    [
      [1, 1_000_000],
      [2, 1_000_100],
      [5, 1_000_400],
    ],
  );
});

test('lossRuns: each run of missing replies, its outage and whether it followed the cut or the restore', () => {
  const replies = new Map<number, number>([
    [1, 0],
    [2, 100],
    // 3..7 lost after the cut at 150
    [8, 3000],
    [9, 3100],
    // 10 lost after the restore at 3150
    [11, 3400],
    // 12 lost at the end, never answered
  ]);
  assert.deepEqual(lossRuns(replies, 12, 100, 150, 3150), [
    { lost: 5, outageMs: 2900, atMsFromCut: 50, after: 'cut' },
    { lost: 1, outageMs: 300, atMsFromCut: 3050, after: 'restore' },
    { lost: 1, outageMs: -1, atMsFromCut: 3350, after: 'restore' },
  ]);
  assert.deepEqual(lossRuns(replies, 2, 100, 0, 0), [], 'nothing lost among the first two');
});
