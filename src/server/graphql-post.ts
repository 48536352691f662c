import type http from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { refuseTooLarge } from './body-limit.js';

/**
 * `POST /graphql` with a plain JSON body, served by node:http directly: the
 * one request shape every client sends. Express, its router and its body
 * parser add CPU per request (measured in bench/README.md) and nothing else
 * here. Anything else — other
 * methods (GET, the IDE), other content types or charsets, compressed bodies —
 * is not taken (`accepts` says no) and goes through express as before.
 *
 * Same contract as express.json + @as-integrations/express5: a body that
 * grows past `maxBodyBytes` is 413 PAYLOAD_TOO_LARGE (refuseTooLarge; a
 * declared Content-Length over it never gets here, see http.ts), a body that
 * is not a JSON object or array is 400 BAD_REQUEST "not valid JSON", and
 * Apollo answers the rest.
 */
export function graphqlPostHandler<C extends BaseContext>(options: {
  readonly apollo: ApolloServer<C>;
  readonly maxBodyBytes: number;
  readonly context: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<C>;
  readonly onError: (error: unknown) => void;
}) {
  const { apollo, maxBodyBytes } = options;

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
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const query = req.url!.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: query < 0 ? '' : req.url!.slice(query), body },
      context: () => options.context(req, res),
    });
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
