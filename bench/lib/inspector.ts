import WebSocket from 'ws';
import { sleep } from './processes.js';

/**
 * Forces a full garbage collection in another Node process from outside: the
 * process was started with `--inspect-port=127.0.0.1:<port>` (inactive), and
 * SIGUSR1 opens its inspector; `HeapProfiler.collectGarbage` then runs a GC.
 * Nothing in the application is involved (no debug endpoint); memory itself
 * is read from /proc/<pid>/status.
 */
export async function forceGc(pid: number, inspectPort: number): Promise<void> {
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
  const socket = new WebSocket(target);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const call = (id: number, method: string) =>
    new Promise<void>((resolve) => {
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { id?: number };
        if (message.id === id) {
          socket.off('message', onMessage);
          resolve();
        }
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id, method }));
    });
  // Twice: the first pass can leave garbage reachable only from finalizers.
  await call(1, 'HeapProfiler.collectGarbage');
  await call(2, 'HeapProfiler.collectGarbage');
  socket.close();
}
