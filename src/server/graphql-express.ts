import type { Request, RequestHandler } from 'express';
import { headerMapOf, type ExecuteGraphQL } from './graphql-post.js';

/** The query string of a request's URL, with its `?` (empty without one). */
function searchOf(req: Request): string {
  const at = req.url.indexOf('?');
  return at < 0 ? '' : req.url.slice(at);
}

/**
 * GraphQL through express: GET /graphql, and the POSTs graphql-post.ts does
 * not take (other content types, compressed bodies; parsed by express.json
 * before this). What @as-integrations/express5 does, but through `execute`,
 * so a persisted document request is resolved before Apollo reads it, as on
 * the direct path. Errors go to express's error handler (http.ts).
 */
export function graphqlExpressHandler(execute: ExecuteGraphQL): RequestHandler {
  return async (req, res) => {
    const response = await execute(
      { method: req.method.toUpperCase(), headers: headerMapOf(req), search: searchOf(req), body: req.body },
      req,
      res,
    );
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.send(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
