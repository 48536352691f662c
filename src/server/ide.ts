/**
 * The browser GraphQL IDE (GraphiQL) at GET /graphql, served entirely from
 * this server: the page, React, GraphiQL and its explorer plugin are read from
 * node_modules and served under /graphql/ide/assets/. Nothing loads from
 * another host (the page's Content-Security-Policy forbids it).
 *
 * Queries and mutations go to POST /graphql, subscriptions over graphql-ws
 * (protocol graphql-transport-ws) to ws(s)://<host>/graphql; GraphiQL's
 * headers editor adds HTTP headers to requests (and to the websocket's
 * connection_init payload) — which is how a bearer token is pasted in.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { isIPv4 } from 'node:net';
import { dirname, join } from 'node:path';
import type { Express, Request, Response } from 'express';

export const IDE_PATH = '/graphql';
export const IDE_ASSETS_PATH = '/graphql/ide/assets';

const require = createRequire(import.meta.url);

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

/** A package's directory (each of these exports its package.json). */
function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

function asset(type: string, body: string | Buffer): Asset {
  const buffer = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const etag = `"${createHash('sha256').update(buffer).digest('base64url').slice(0, 27)}"`;
  return { type, body: buffer, etag };
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * The IDE's first query, for a new browser (GraphiQL keeps the user's tabs
 * afterwards). Lines stay within 50 characters: the editor shares the window
 * with the result pane, and on a 1280-pixel-wide window shows about 51.
 */
function welcomeQuery(signedIn: boolean): string {
  const signIn = signedIn
    ? `# You are signed in as the development admin:
# this server put a token into the "Headers" tab
# below, for browsers on its own machine only.
# So this query just runs: Ctrl-Enter (Cmd-Enter)
# or the ▶ button.
#
# To see the API as a customer does, mint their
# token with \`npm run token -- --user <user id>\`
# and put it into the Headers tab instead.
# Without a token only the catalog (products) and
# registerUser are open.`
    : `# Sign in first: open the "Headers" tab below
# the editor and paste
#
#   { "Authorization": "Bearer <token>" }
#
# The server's start-up log says how to get a
# token: on the embedded database it prints a
# development admin token, and
# \`npm run token -- --user <user id>\` mints a
# customer's. Without a token only the catalog
# (products) and registerUser are open.
#
# Then run this query: Ctrl-Enter (Cmd-Enter)
# or the ▶ button.`;
  return `# Welcome to the Orders GraphQL IDE.
#
${signIn}
#
# Headers go with every request and with
# subscriptions.
#
# The icons on the left open the schema
# documentation, the query history and the
# explorer.
#
# No data yet? Stop the server and run
# \`npm run seed\`, or start it with
# \`SEED=1 npm start\`.
#
# Live updates: open a new tab (+), subscribe to
# an order
#
#   subscription {
#     orderStatusChanged(orderId: "<id>") {
#       id status statusDisplay version
#     }
#   }
#
# and run it; then confirm, ship or cancel that
# order in another tab (or browser window) and
# watch it change.

query Dashboard {
  orders(pageSize: 5) {
    total
    orders {
      id status statusDisplay total userName
      createdAt
    }
  }
  products(pageSize: 5) {
    total
    products { id name price }
  }
  projections { name lag }
}
`;
}

/** What the page hands to the IDE: GraphiQL's first query and, for a local browser, its headers. */
interface PageSettings {
  readonly defaultQuery: string;
  /** The development admin token as the Headers tab's content. */
  readonly defaultHeaders?: string;
}

/**
 * Starts GraphiQL on the page; served as a file so the page needs no inline
 * script. Its settings come from the page's JSON data block (#ide-settings).
 *
 * A development token is minted anew for each page: it is not persisted, so a
 * reload never brings back an expired one, and every tab (also a new one)
 * starts with the current token.
 */
const BOOTSTRAP = `(function () {
  'use strict';
  var endpoint = location.origin + location.pathname.replace(/\\/+$/, '');
  var params = new URLSearchParams(location.search);
  var settings = JSON.parse(document.getElementById('ide-settings').textContent);
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: endpoint.replace(/^http/, 'ws'),
  });
  var plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.explorerPlugin()] : [];
  var props = {
    fetcher: fetcher,
    plugins: plugins,
    defaultQuery: settings.defaultQuery,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: !settings.defaultHeaders,
  };
  if (settings.defaultHeaders) props.defaultHeaders = settings.defaultHeaders;
  if (params.get('query')) props.query = params.get('query');
  if (params.get('variables')) props.variables = params.get('variables');
  if (params.get('headers')) props.headers = params.get('headers');
  var logo = React.createElement(GraphiQL.Logo, null, 'Orders GraphQL');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props, logo));
})();
`;

const PAGE_CSS = `html, body, #graphiql { height: 100%; margin: 0; }
body { overflow: hidden; }
#graphiql > .loading { font: 16px system-ui, sans-serif; padding: 2rem; }
`;

/** Everything the page loads, by file name under IDE_ASSETS_PATH. Resolved once, at startup. */
function loadAssets(): Map<string, Asset> {
  const react = packageDir('react');
  const reactDom = packageDir('react-dom');
  const graphiql = packageDir('graphiql');
  const explorer = packageDir('@graphiql/plugin-explorer');
  const file = (dir: string, path: string) => readFileSync(join(dir, path));
  const assets = new Map<string, Asset>([
    ['react.production.min.js', asset(JS, file(react, 'umd/react.production.min.js'))],
    ['react-dom.production.min.js', asset(JS, file(reactDom, 'umd/react-dom.production.min.js'))],
    ['graphiql.min.js', asset(JS, file(graphiql, 'graphiql.min.js'))],
    ['graphiql.min.css', asset(CSS, file(graphiql, 'graphiql.min.css'))],
    ['plugin-explorer.umd.js', asset(JS, file(explorer, 'dist/index.umd.js'))],
    ['plugin-explorer.css', asset(CSS, file(explorer, 'dist/style.css'))],
    ['ide.js', asset(JS, BOOTSTRAP)],
    ['ide.css', asset(CSS, PAGE_CSS)],
  ]);
  return assets;
}

/** The settings as a JSON data block: never executed, and `<` escaped so nothing in it ends the element. */
function settingsBlock(settings: PageSettings): string {
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<script type="application/json" id="ide-settings">${json}</script>`;
}

function page(assets: Map<string, Asset>, settings: PageSettings): Asset {
  // The query string is each file's content hash: a new version is a new URL.
  const href = (name: string) => `${IDE_ASSETS_PATH}/${name}?v=${assets.get(name)!.etag.slice(1, 13)}`;
  const scripts = ['react.production.min.js', 'react-dom.production.min.js', 'graphiql.min.js', 'plugin-explorer.umd.js', 'ide.js'];
  const styles = ['graphiql.min.css', 'plugin-explorer.css', 'ide.css'];
  return asset(
    'text/html; charset=utf-8',
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orders GraphQL · GraphiQL</title>
<link rel="icon" href="data:,">
${styles.map((s) => `<link rel="stylesheet" href="${href(s)}">`).join('\n')}
</head>
<body>
<div id="graphiql"><div class="loading">Loading the GraphQL IDE…</div></div>
${settingsBlock(settings)}
${scripts.map((s) => `<script src="${href(s)}"></script>`).join('\n')}
</body>
</html>
`,
  );
}

/** 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6 (::ffff:127.0.0.1). */
function isLoopbackAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  return address === '::1' || (isIPv4(v4) && v4.startsWith('127.'));
}

/** The host name of a Host header, without the port (and without brackets for IPv6). */
function hostName(host: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  return (bracketed ? bracketed[1]! : host.replace(/:\d*$/, '')).toLowerCase();
}

/**
 * Whether a request comes from a browser on this machine, and so may get the
 * development admin token in its page. All three must hold:
 * - the peer is a loopback address (the connection never left the machine);
 * - the Host header names this machine (`localhost` or a loopback address):
 *   a page of some other site whose name it made resolve to 127.0.0.1 (DNS
 *   rebinding) reads its own origin, with its own name in Host;
 * - no proxy forwarded it: a proxy or tunnel on this machine connects from
 *   loopback on behalf of someone elsewhere, and says so in these headers.
 */
export function isLocalBrowserRequest(req: Pick<IncomingMessage, 'headers'> & { socket: { remoteAddress?: string } }): boolean {
  const { headers } = req;
  if (headers.forwarded !== undefined || headers['x-forwarded-for'] !== undefined || headers['x-real-ip'] !== undefined) {
    return false;
  }
  const peer = req.socket.remoteAddress;
  const host = headers.host ? hostName(headers.host) : undefined;
  return peer !== undefined && isLoopbackAddress(peer) && host !== undefined && (host === 'localhost' || isLoopbackAddress(host));
}

/**
 * Same-origin only: scripts, styles and connections (HTTP, and the websocket
 * to this host — named explicitly for browsers whose 'self' does not cover
 * ws:); fonts and icons are data: URIs inside the CSS. GraphiQL sets inline
 * styles, hence 'unsafe-inline' for styles only.
 */
function contentSecurityPolicy(req: Request): string {
  const host = req.headers.host;
  const sockets = host && /^[\w.-]+(:\d{1,5})?$|^\[[\da-f:.]+\](:\d{1,5})?$/i.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self' data:",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A browser asks for a page: it prefers HTML over the GraphQL response types. */
export function prefersHtml(req: Request): boolean {
  return req.accepts(['application/graphql-response+json', 'application/json', 'text/html']) === 'text/html';
}

function send(req: Request, res: Response, item: Asset, cacheControl: string): void {
  res.setHeader('Content-Type', item.type);
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('ETag', item.etag);
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  res.send(item.body);
}

/**
 * Mounts the IDE on `app`; call it before the GraphQL middleware. When
 * disabled, a browser's GET /graphql is a plain 404 (GraphQL clients, which
 * ask for JSON, are unaffected) and so is everything under the assets path.
 *
 * With `devToken` (the embedded development default), a browser on this
 * machine ({@link isLocalBrowserRequest}) gets a page whose Headers tab holds
 * a freshly minted development admin token; that page is never cached. Every
 * other request gets the page without it.
 */
export function mountIde(app: Express, options: { enabled: boolean; devToken?: () => Promise<string> }): void {
  if (!options.enabled) {
    app.get(IDE_PATH, (req, res, next) => {
      if (!prefersHtml(req)) return next();
      res.setHeader('Vary', 'Accept');
      res.status(404).type('text/plain').send('Not Found');
    });
    app.use(`${IDE_PATH}/ide`, (_req, res) => {
      res.status(404).type('text/plain').send('Not Found');
    });
    return;
  }
  const assets = loadAssets();
  const html = page(assets, { defaultQuery: welcomeQuery(false) });
  const signedInQuery = welcomeQuery(true);
  const { devToken } = options;
  app.get(IDE_PATH, (req, res, next) => {
    if (!prefersHtml(req)) return next();
    res.setHeader('Vary', 'Accept');
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(req));
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!devToken || !isLocalBrowserRequest(req)) {
      send(req, res, html, 'no-cache');
      return;
    }
    devToken().then((token) => {
      const headers = JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2);
      const signedIn = page(assets, { defaultQuery: signedInQuery, defaultHeaders: headers });
      res.setHeader('Content-Type', signedIn.type);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.send(signedIn.body);
    }, next);
  });
  app.get(`${IDE_ASSETS_PATH}/:name`, (req, res) => {
    const item = assets.get(String(req.params.name));
    if (!item) {
      res.status(404).type('text/plain').send('Not Found');
      return;
    }
    // Versioned URLs (?v=<hash>) may be cached for long; the rest revalidate.
    send(req, res, item, req.query.v ? 'public, max-age=31536000, immutable' : 'no-cache');
  });
  app.use(`${IDE_PATH}/ide`, (_req, res) => {
    res.status(404).type('text/plain').send('Not Found');
  });
}
