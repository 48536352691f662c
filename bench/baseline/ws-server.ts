/**
 * The raw fan-out baseline: the floor of pushing one change to N
 * subscriptions from one Node process. A bare `ws` server speaking just
 * enough of graphql-transport-ws for the same graphql-ws client (connection
 * init/ack, ping/pong, subscribe, complete), and a `node:http` POST
 * /placeOrder that answers like the API and then sends every open
 * subscription a `next` message shaped like the API's `ordersChanged`
 * (one JSON.stringify per subscription, as graphql-ws does). No database, no
 * GraphQL execution: what is left is the transport.
 *
 * Env: PORT.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const subscriptions = new Map<WebSocket, Set<string>>();
let position = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(404).end();
    return;
  }
  req.resume();
  req.on('end', () => {
    const orderId = randomUUID();
    position++;
    const body = JSON.stringify({ data: { placeOrder: { orderId, version: 1, position: `0:${position}` } } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    const view = { id: orderId, status: 'PENDING', position: `0:${position}` };
    setImmediate(() => {
      for (const [socket, ids] of subscriptions) {
        for (const id of ids) socket.send(JSON.stringify({ id, type: 'next', payload: { data: { ordersChanged: view } } }));
      }
    });
  });
});

const wss = new WebSocketServer({ server, path: '/graphql' });
wss.on('connection', (socket) => {
  const ids = new Set<string>();
  subscriptions.set(socket, ids);
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string };
    switch (message.type) {
      case 'connection_init':
        socket.send('{"type":"connection_ack"}');
        break;
      case 'ping':
        socket.send('{"type":"pong"}');
        break;
      case 'subscribe':
        ids.add(message.id!);
        break;
      case 'complete':
        ids.delete(message.id!);
        break;
    }
  });
  socket.on('close', () => subscriptions.delete(socket));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
const shutdown = () => {
  for (const socket of wss.clients) socket.terminate();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
