import type http from 'node:http';
import { HeaderMap, type HTTPGraphQLRequest, type HTTPGraphQLResponse } from '@apollo/server';
import { refuseTooLarge } from './body-limit.js';

/**
 * Serves one GraphQL request over HTTP, as Apollo's executeHTTPGraphQLRequest
 * does (http.ts: the caller, the persisted document, then Apollo). Both paths
 * call it: this one and express's (graphql-express.ts).
 */
export type ExecuteGraphQL = (
  request: HTTPGraphQLRequest,
  req: http.IncomingMessage,
  res: http.ServerResponse,
) => Promise<HTTPGraphQLResponse>;

/** The request's headers as Apollo takes them (repeated ones joined, as express's integration does). */
export function headerMapOf(req: http.IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/**
 * `POST /graphql` with a plain JSON body, served by node:http directly: the
 * one request shape every client sends. Express, its router and its body
 * parser add CPU per request (measured in bench/README.md) and nothing else
 * here. Anything else — other
 * methods (GET, the IDE), other content types or charsets, compressed bodies —
 * is not taken (`accepts` says no) and goes through express as before.
 *
 * Same contract as express.json + graphql-express.ts: a body that
 * grows past `maxBodyBytes` is 413 PAYLOAD_TOO_LARGE (refuseTooLarge; a
 * declared Content-Length over it never gets here, see http.ts), a body that
 * is not a JSON object or array is 400 BAD_REQUEST "not valid JSON", and
 * Apollo answers the rest.
 */
export function graphqlPostHandler(options: {
  readonly execute: ExecuteGraphQL;
  readonly maxBodyBytes: number;
  readonly onError: (error: unknown) => void;
}) {
  const { execute, maxBodyBytes } = options;

  function sendError(res: http.ServerResponse, status: number, code: string, message: string) {
    const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, text: string) {
    let body: unknown;
    try {
      body = text.length === 0 ? {} : JSON.parse(text);
    } catch {
      body = undefined;
    }
    // As body-parser's strict mode: only an object or an array is a JSON body.
    if (typeof body !== 'object' || body === null) {
      sendError(res, 400, 'BAD_REQUEST', 'The request body is not valid JSON');
      return;
    }
    const query = req.url!.indexOf('?');
    const search = query < 0 ? '' : req.url!.slice(query);
    const response = await execute({ method: 'POST', headers: headerMapOf(req), search, body }, req, res);
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return {
    /** Whether this handler serves the request (else express does). */
    accepts(req: http.IncomingMessage): boolean {
      if (req.method !== 'POST') return false;
      const url = req.url ?? '';
      if (url !== '/graphql' && !url.startsWith('/graphql?')) return false;
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
      return /^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(req.headers['content-type'] ?? '');
    },

    serve(req: http.IncomingMessage, res: http.ServerResponse): void {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        if (refused) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          refused = true;
          chunks.length = 0;
          refuseTooLarge(req, res, maxBodyBytes);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (refused) return;
        handle(req, res, Buffer.concat(chunks, size).toString('utf8')).catch((error: unknown) => {
          options.onError(error);
          if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
          else res.destroy();
        });
      });
      req.on('error', (error) => {
        // After a refusal, the drain ends the connection itself.
        if (refused) return;
        refused = true;
        options.onError(error);
        res.destroy();
      });
    },
  };
}
