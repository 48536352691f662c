import type http from 'node:http';

/**
 * How much more of a refused body is read and thrown away, and for how long
 * at most, before the connection is cut (see `refuseTooLarge`).
 */
export const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
export const DRAIN_MAX_MS = 5_000;

/** Whether the request declares (Content-Length) a body larger than `maxBodyBytes`. */
export function declaresTooLarge(req: http.IncomingMessage, maxBodyBytes: number): boolean {
  return Number(req.headers['content-length'] ?? 0) > maxBodyBytes;
}

/**
 * Answers 413 PAYLOAD_TOO_LARGE and closes the connection, without reading
 * the body into memory. A client still sending when the connection closes
 * gets a reset, and may lose the answer with it (fetch reports `EPIPE`): so
 * the 413 is sent at once and the rest of the body is read and discarded —
 * at most DRAIN_MAX_BYTES more, for at most DRAIN_MAX_MS — and the
 * connection ends when the body does. Past either bound it is cut. Nothing
 * is read when no body is coming: a client that sent `Expect: 100-continue`
 * was never told to send it, and a declared length beyond the bound is not
 * worth waiting for.
 */
export function refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse, maxBodyBytes: number): void {
  const body = JSON.stringify({
    errors: [{ message: `The request body is larger than ${maxBodyBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
  });
  res.writeHead(413, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  const expectsContinue = /\b100-continue\b/i.test(req.headers.expect ?? '');
  if (req.complete || expectsContinue || Number(req.headers['content-length'] ?? 0) > DRAIN_MAX_BYTES) {
    res.end(body);
    return;
  }
  res.write(body);
  const socket = req.socket;
  let drained = 0;
  const end = () => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const cut = () => {
    end();
    socket.destroy();
  };
  const timer = setTimeout(cut, DRAIN_MAX_MS);
  timer.unref();
  // A body parser that stopped at the limit paused the request or left it piped into an inflater.
  req.unpipe();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) cut();
  });
  req.once('end', end);
  req.once('error', cut);
  socket.once('close', () => clearTimeout(timer));
  req.resume();
}
