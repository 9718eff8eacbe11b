// The report of scripts/bench.mjs: the markdown tables of medians and ratios, and the verdict on
// every target of issues 7 and 8, from the measured cells (server × load runs) and cold starts.
// Pure: no processes, no files (bench.mjs measures, then writes what this returns).

/** The median of the finite values, or NaN. */
export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The report as markdown.
 * @param m.header - the first line (when, where, how measured).
 * @param m.cells - `{ server, load, runs: [{ rps, srvCpu, backend? }] }` per measured pair.
 * @param m.rows - every server row (`name`, `what`, `modes`); m.servers the measured ones, in order.
 * @param m.loadsUsed - the loads that ran.
 * @param m.clients - the cold-start clients (`name`); m.cold their times in ms by name.
 * @param m.skipped - why rows were not measured.
 */
export function renderReport({ header, cells, rows, servers, loadsUsed, clients, cold, skipped }) {
  const rpsOf = (server, load) => {
    const c = cells.find((x) => x.server.name === server && x.load.name === load);
    return c ? median(c.runs.map((r) => r.rps)) : NaN;
  };
  /** Replies per second of server CPU: less sensitive than replies/s to other load on the machine. */
  const effOf = (server, load) => {
    const c = cells.find((x) => x.server.name === server && x.load.name === load);
    return c ? median(c.runs.map((r) => (r.srvCpu > 0 ? r.rps / (r.srvCpu / 100) : NaN))) : NaN;
  };
  /** The backend `udplab bench` ran on in a cell (from its `started` event), or ''. */
  const backendOf = (load) => {
    const names = new Set(
      cells.filter((c) => c.load.name === load).flatMap((c) => c.runs.map((r) => r.backend)),
    );
    return [...names].join('/');
  };
  const cpuOf = (server, load) => {
    const c = cells.find((x) => x.server.name === server && x.load.name === load);
    return c ? median(c.runs.map((r) => r.srvCpu)) : NaN;
  };

  const coldMedian = (name) => median(cold.get(name) ?? []);

  const k = (x) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : '–');
  const ratio = (a, b, digits = 2) =>
    Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(digits)}×` : '–';
  const pct = (x) => (Number.isFinite(x) ? `${Math.round(x)} %` : '–');
  const verdict = (ok) => (ok === null ? '–' : ok ? 'met' : '**not met**');
  const check = (a, b, min) => (Number.isFinite(a) && Number.isFinite(b) ? a / b >= min : null);

  const lines = [header, ''];
  const plainLoad = 'udpload';
  const base = rpsOf('node-raw', plainLoad);
  lines.push(
    `### Servers under the C generator (udpload, plain requests)`,
    '',
    '| server | replies/s | server CPU | replies per CPU-second | vs bare Node | vs Python printing | vs C ceiling |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of servers.filter((x) => x.modes.includes('plain'))) {
    const r = rpsOf(s.name, plainLoad);
    lines.push(
      `| ${s.what} | ${k(r)} | ${pct(cpuOf(s.name, plainLoad))} | ${k(effOf(s.name, plainLoad))} | ${ratio(r, base)} | ${ratio(r, rpsOf('py-print', plainLoad))} | ${ratio(r, rpsOf('c-mmsg', plainLoad))} |`,
    );
  }
  lines.push('');
  if (loadsUsed.some((l) => l.name === 'udplab-bench')) {
    // The dgram columns only where that load ran (the C and native servers by default).
    const dgramCols = loadsUsed.some((l) => l.name === 'udplab-bench-dgram');
    const benchBackend = backendOf('udplab-bench') || 'auto';
    lines.push(
      `### Cross-check: \`udplab bench\` as the load (plain requests)`,
      '',
      `\`udplab bench\` runs on its default backend (auto: ${benchBackend} here)` +
        (dgramCols ? '; `--backend dgram` is measured against the C and native servers.' : '.'),
      '',
      `| server | udpload replies/s | udplab bench (${benchBackend}) replies/s | udplab bench ÷ udpload |` +
        (dgramCols ? ' udplab bench --backend dgram replies/s | dgram ÷ udpload |' : ''),
      `|---|---:|---:|---:|${dgramCols ? '---:|---:|' : ''}`,
    );
    for (const s of servers.filter((x) => x.modes.includes('plain'))) {
      const a = rpsOf(s.name, plainLoad);
      const b = rpsOf(s.name, 'udplab-bench');
      const d = rpsOf(s.name, 'udplab-bench-dgram');
      lines.push(
        `| ${s.what} | ${k(a)} | ${k(b)} | ${ratio(b, a)} |` +
          (dgramCols ? ` ${k(d)} | ${ratio(d, a)} |` : ''),
      );
    }
    lines.push('');
  }
  const idServers = servers.filter((x) => x.modes.includes('id'));
  if (idServers.length > 0) {
    lines.push(
      `### Request-ID mode (\`udplab bench --id\` as the load: udpload cannot send IDs)`,
      '',
      '| server | plain replies/s (udplab bench) | ID replies/s (udplab bench --id) | ID ÷ plain |',
      '|---|---:|---:|---:|',
    );
    for (const s of idServers) {
      const a = rpsOf(s.name, 'udplab-bench');
      const b = rpsOf(s.name, 'udplab-bench-id');
      lines.push(`| ${s.what} | ${k(a)} | ${k(b)} | ${ratio(b, a)} |`);
    }
    lines.push('');
  }
  const sealed = servers.find((x) => x.name === 'udplab-sealed');
  const SEALED_LOAD = 'udplab-bench-sealed';
  if (sealed) {
    const row = (name, load) =>
      `| ${rows.find((x) => x.name === name)?.what ?? name} | ${k(rpsOf(name, load))} | ${pct(cpuOf(name, load))} | ${k(effOf(name, load))} |`;
    lines.push(
      `### Sealed mode (\`udplab bench --key-file\` as the load)`,
      '',
      'The generator seals and opens every datagram too (the same ChaCha20-Poly1305 work as the server).',
      'When the server CPU column is well under 100 %, the server did not set the pace (the generator did,',
      'or at 64 in flight the two took turns, each idle while the other works): compare replies per',
      'server CPU-second.',
      '',
      '| server | replies/s | server CPU | replies per CPU-second |',
      '|---|---:|---:|---:|',
      row(sealed.name, SEALED_LOAD),
      ...(servers.some((x) => x.name === 'udplab-sealed-native')
        ? [row('udplab-sealed-native', SEALED_LOAD)]
        : []),
      row('udplab-quiet', 'udplab-bench'),
      ...(servers.some((x) => x.name === 'udplab-native')
        ? [row('udplab-native', 'udplab-bench')]
        : []),
      '',
    );
  }
  const nodeCold = coldMedian('bare Node dgram client');
  lines.push(
    `### Client cold start (whole process, one request to \`udplab server --quiet\`, median of ${Math.max(0, ...[...cold.values()].map((v) => v.length))})`,
    '',
    '| client | wall time | vs bare Node client |',
    '|---|---:|---:|',
  );
  for (const c of clients) {
    lines.push(
      `| ${c.name} | ${coldMedian(c.name).toFixed(1)} ms | ${ratio(coldMedian(c.name), nodeCold)} |`,
    );
  }
  lines.push('');
  const coldRatio = coldMedian('udplab client') / nodeCold;
  /** A target row comparing two servers under udpload: met on both figures, on one, or on none. */
  function serverTarget(text, a, b, min) {
    return pairTarget(text, [a, plainLoad], [b, plainLoad], min);
  }

  /** A target row comparing two [server, load] cells. */
  function pairTarget(text, [a, la], [b, lb], min) {
    const byRps = check(rpsOf(a, la), rpsOf(b, lb), min);
    const byCpu = check(effOf(a, la), effOf(b, lb), min);
    const v =
      byRps === null && byCpu === null
        ? '–'
        : byRps && byCpu
          ? 'met'
          : byRps || byCpu
            ? `met on ${byRps ? 'replies/s' : 'CPU-seconds'} only`
            : '**not met**';
    // Three decimals: a verdict must not contradict the figure shown beside it (1.495 is not 1.50).
    return `| ${text} | ${ratio(rpsOf(a, la), rpsOf(b, lb), 3)} | ${ratio(effOf(a, la), effOf(b, lb), 3)} | ${v} |`;
  }
  const measured = (name) => servers.some((x) => x.name === name);
  const sealedNative = measured('udplab-sealed-native');
  lines.push(
    '### Targets (issue 7)',
    '',
    'Server rows are judged on both figures: replies/s, and replies per server CPU-second (which',
    'discounts CPU time taken from the server by other jobs on the machine, and a load generator',
    'that could not keep the server busy). The default backend (`auto`) is `native` on Linux, so the',
    'targets of the default server are judged on it; the `--backend dgram` rows show the fallback.',
    '',
    '| target | replies/s | per CPU-second | verdict |',
    '|---|---:|---:|---|',
    ...(measured('udplab-native')
      ? [
          serverTarget(
            'printing server (default: native) ≥ 1.0× the printing Python server',
            'udplab-native-print',
            'py-print',
            1.0,
          ),
          serverTarget(
            'printing server (default: native) ≥ 0.9× the bare Node server',
            'udplab-native-print',
            'node-raw',
            0.9,
          ),
          serverTarget(
            '`--quiet` (default: native) ≥ 0.95× the bare Node server',
            'udplab-native',
            'node-raw',
            0.95,
          ),
        ]
      : []),
    serverTarget(
      '`--backend dgram`, printing ≥ 1.0× the printing Python server',
      'udplab',
      'py-print',
      1.0,
    ),
    serverTarget(
      '`--backend dgram`, printing ≥ 0.9× the bare Node server',
      'udplab',
      'node-raw',
      0.9,
    ),
    serverTarget(
      '`--backend dgram --quiet` ≥ 0.95× the bare Node server',
      'udplab-quiet',
      'node-raw',
      0.95,
    ),
    ...(sealedNative
      ? [
          pairTarget(
            'sealed (default: native) ≥ 0.7× plain `--quiet` (same backend, udplab bench load)',
            ['udplab-sealed-native', SEALED_LOAD],
            ['udplab-native', 'udplab-bench'],
            0.7,
          ),
        ]
      : []),
    sealed
      ? pairTarget(
          '`--backend dgram`, sealed ≥ 0.7× plain `--quiet` (udplab bench load)',
          [sealed.name, SEALED_LOAD],
          ['udplab-quiet', 'udplab-bench'],
          0.7,
        )
      : '| sealed ≥ 0.7× plain `--quiet` | not measured | – | – |',
    `| \`udplab client\` cold start ≤ 1.15× the bare Node client (wall time) | ${Number.isFinite(coldRatio) ? coldRatio.toFixed(3) + '×' : '–'} | – | ${verdict(Number.isFinite(coldRatio) ? coldRatio <= 1.15 : null)} |`,
    `| \`udplab bench\` (${backendOf('udplab-bench') || 'auto'} backend) ≥ 0.8× udpload against the C server | ${ratio(rpsOf('c-mmsg', 'udplab-bench'), rpsOf('c-mmsg', plainLoad), 3)} | – | ${verdict(check(rpsOf('c-mmsg', 'udplab-bench'), rpsOf('c-mmsg', plainLoad), 0.8))} |`,
    '',
  );
  if (measured('udplab-native')) {
    lines.push(
      '### Targets (issue 8, native backend)',
      '',
      '| target | replies/s | per CPU-second | verdict |',
      '|---|---:|---:|---|',
      serverTarget(
        'native, printing ≥ 2.0× the printing Python server',
        'udplab-native-print',
        'py-print',
        2.0,
      ),
      serverTarget(
        'native, printing ≥ 0.8× the C recvmmsg server',
        'udplab-native-print',
        'c-mmsg',
        0.8,
      ),
      serverTarget(
        'native `--quiet` ≥ 0.85× the C recvmmsg server',
        'udplab-native',
        'c-mmsg',
        0.85,
      ),
      sealedNative && sealed
        ? pairTarget(
            'native sealed ≥ 1.5× dgram sealed',
            ['udplab-sealed-native', SEALED_LOAD],
            [sealed.name, SEALED_LOAD],
            1.5,
          )
        : '| native sealed ≥ 1.5× dgram sealed | not measured | – | – |',
      '',
    );
  }
  if (skipped.length > 0) lines.push(`Not measured: ${skipped.join('; ')}.`, '');

  return lines.join('\n');
}
