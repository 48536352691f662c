/**
 * The PostGraphile peer: "GraphQL straight over PostgreSQL" for reads, on the
 * SAME read-model tables of the API's database (order_view, user_view,
 * product_view in schema `public`), nothing else.
 *
 * PostGraphile 5 (Amber preset) with `pg` (pool 10, like the API) behind
 * grafserv's node:http adaptor, as it would run in production: no GraphiQL
 * (ruru), no watch mode, no websockets, no `explain`. The schema is built
 * once before the port answers; /healthz answers 200 then. (Introspection
 * still reads the hidden tables' column types and says it has no codec for
 * the event log's `xid8`: harmless, that table is not served.)
 *
 * Smart tags (a plugin, nothing written into the database):
 *   - every other table of `public` (write model, event log, histories,
 *     checkpoints …) gets `@behavior -*`: absent from the schema;
 *   - the three views are read-only (`-insert -update -delete`);
 *   - order_view gets `@foreignKey (user_id) references user_view (id)`: the
 *     read model has no such constraint, and this gives each order its
 *     customer (`userViewByUserId`), planned into the same SQL statement.
 *
 * No authentication, no cost limit: the Authorization header is ignored.
 *
 * Env: DATABASE_URL, PORT, DB_POOL_SIZE (default 10).
 */
import http from 'node:http';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import type { PgClass } from 'postgraphile/graphile-build-pg/pg-introspection';
import { pgSmartTags } from 'postgraphile/utils';

/** The read-model tables the peer serves; every other table of the schema is hidden. */
export const PEER_TABLES = ['order_view', 'user_view', 'product_view'] as const;
const served = new Set<string>(PEER_TABLES);
const READ_ONLY = '-insert -update -delete';

const TagsPlugin = pgSmartTags(
  [
    { kind: 'class', match: (entity) => (entity as PgClass).getNamespace()?.nspname === 'public' && !served.has((entity as PgClass).relname), tags: { behavior: '-*' } },
    { kind: 'class', match: 'public.order_view', tags: { behavior: READ_ONLY, foreignKey: '(user_id) references user_view (id)' } },
    { kind: 'class', match: 'public.user_view', tags: { behavior: READ_ONLY } },
    { kind: 'class', match: 'public.product_view', tags: { behavior: READ_ONLY } },
  ],
  null,
  { name: 'BenchPeerTablesPlugin', description: 'serve only the three read-model tables, read-only; order → customer' },
);

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [TagsPlugin],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ['public'],
      poolConfig: { max: Number(process.env.DB_POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false, websockets: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
// Build the schema now (introspection + plan-ready schema), before the port answers.
await pgl.getSchema();
const serv = pgl.createServ(grafserv);
const handler = serv.createHandler();

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  handler(req, res);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');

const stop = () => {
  server.close();
  void Promise.resolve(pgl.release()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
