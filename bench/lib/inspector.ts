import WebSocket from 'ws';
import { sleep } from './processes.js';

/**
 * Connects to another Node process's inspector: started with
 * `--inspect-port=127.0.0.1:<port>` (inactive), opened with SIGUSR1.
 */
async function openInspector(pid: number, inspectPort: number, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  let target: string | undefined;
  for (let attempt = 0; attempt < 50 && !target; attempt++) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
      target = list[0]?.webSocketDebuggerUrl;
    } catch {
      process.kill(pid, 'SIGUSR1'); // opens the inspector (idempotent)
      await sleep(100);
    }
  }
  if (!target) throw new Error(`could not open the inspector of pid ${pid}`);
  const socket = new WebSocket(target, options);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/**
 * Forces a full garbage collection in another Node process from outside: the
 * process was started with `--inspect-port=127.0.0.1:<port>` (inactive), and
 * SIGUSR1 opens its inspector; `HeapProfiler.collectGarbage` then runs a GC.
 * Nothing in the application is involved (no debug endpoint); memory itself
 * is read from /proc/<pid>/status.
 */
export async function forceGc(pid: number, inspectPort: number): Promise<void> {
  const socket = await openInspector(pid, inspectPort);
  try {
    // Twice: the first pass can leave garbage reachable only from finalizers.
    await call(socket, 1, 'HeapProfiler.collectGarbage');
    await call(socket, 2, 'HeapProfiler.collectGarbage');
  } finally {
    socket.close();
  }
}

/**
 * Sends one inspector command and resolves when its answer (`id`) arrives;
 * `onMessage` sees every message meanwhile (e.g. a snapshot's chunks). Rejects
 * with the inspector's error, when the socket closes first, or after
 * `timeoutMs` (default 120 s: a snapshot of a large heap takes tens of seconds).
 */
function call(
  socket: WebSocket,
  id: number,
  method: string,
  { params, onMessage, timeoutMs = 120_000 }: { params?: object; onMessage?: (message: InspectorMessage) => void; timeoutMs?: number } = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('message', listen);
      socket.off('close', closed);
      if (error) reject(error);
      else resolve();
    };
    const listen = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as InspectorMessage;
      onMessage?.(message);
      if (message.id !== id) return;
      done(message.error ? new Error(`inspector ${method} failed: ${JSON.stringify(message.error)}`) : undefined);
    };
    const closed = () => done(new Error(`inspector closed before answering ${method}`));
    const timer = setTimeout(() => done(new Error(`inspector did not answer ${method} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('message', listen);
    socket.once('close', closed);
    socket.send(JSON.stringify({ id, method, ...(params ? { params } : {}) }));
  });
}

interface InspectorMessage {
  readonly id?: number;
  readonly method?: string;
  readonly params?: { chunk?: string };
  readonly error?: unknown;
}

/** Bytes and objects of one kind in a heap snapshot (see heapCensus). */
export interface HeapKind {
  readonly bytes: number;
  readonly objects: number;
}

/**
 * A census of another Node process's heap (opened as for `forceGc`): a heap
 * snapshot (`HeapProfiler.takeHeapSnapshot`, which collects garbage first),
 * its nodes' self sizes summed by kind — an object's constructor name, a
 * closure's function name, or the node type for strings, arrays, code and
 * V8's internals.
 */
export async function heapCensus(pid: number, inspectPort: number): Promise<Map<string, HeapKind>> {
  const socket = await openInspector(pid, inspectPort, { maxPayload: 1 << 30 });
  const chunks: string[] = [];
  try {
    await call(socket, 1, 'HeapProfiler.takeHeapSnapshot', {
      params: { reportProgress: false },
      onMessage: (message) => {
        if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params!.chunk!);
      },
    });
  } finally {
    socket.close();
  }
  const snapshot = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const census = new Map<string, HeapKind>();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const kind = types[nodes[i + type!]!]!;
    const label = kind === 'object' || kind === 'closure' || kind === 'native' ? `${kind} ${strings[nodes[i + name!]!]!.slice(0, 60)}` : kind;
    const entry = census.get(label) ?? { bytes: 0, objects: 0 };
    census.set(label, { bytes: entry.bytes + nodes[i + size!]!, objects: entry.objects + 1 });
  }
  return census;
}

/** What `after` holds more than `before`, per unit (e.g. per open subscription), largest first. */
export function censusGrowth(before: Map<string, HeapKind>, after: Map<string, HeapKind>, units: number, top = 20) {
  const grown = [...after].map(([kind, a]) => {
    const b = before.get(kind) ?? { bytes: 0, objects: 0 };
    return { kind, bytesPerUnit: (a.bytes - b.bytes) / units, objectsPerUnit: (a.objects - b.objects) / units };
  });
  const total = grown.reduce((sum, g) => sum + g.bytesPerUnit, 0);
  return { totalBytesPerUnit: total, kinds: grown.sort((x, y) => y.bytesPerUnit - x.bytesPerUnit).slice(0, top) };
}
