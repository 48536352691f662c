/**
 * Fault classification of errors raised by the `pg` driver itself, produced
 * for real against PostgreSQL (no hand-made error objects): which are faults
 * of the moment after which nothing was done, which leave the outcome
 * unknown, and which are not faults at all.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFault } from '../../src/infrastructure/db/faults.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { testDbKind } from '../support/server.js';

const failure = (work: Promise<unknown>) => work.then(() => expect.fail('expected the statement to fail'), (e: unknown) => e);

describe.runIf(testDbKind() === 'postgres')('classifyFault on errors from pg', () => {
  let database: TestDatabase;
  const clients: pg.Client[] = [];
  const connect = async () => {
    const client = new pg.Client({ connectionString: database.databaseUrl });
    client.on('error', () => undefined); // a terminated backend also emits 'error'
    await client.connect();
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const c = await connect();
    await c.query('CREATE TABLE fault_probe (id int PRIMARY KEY, n int NOT NULL)');
    await c.query('INSERT INTO fault_probe VALUES (1, 0), (2, 0)');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await database?.dispose();
  });

  it('a refused connection is retryable', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: 1, user: 'postgres' });
    const error = await failure(client.connect());
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(classifyFault(error)).toBe('retryable');
  });

  it('a pool that cannot get a connection in time is retryable', async () => {
    const pool = new pg.Pool({ connectionString: database.databaseUrl, max: 1, connectionTimeoutMillis: 200 });
    const held = await pool.connect();
    try {
      const error = await failure(pool.query('SELECT 1'));
      expect(String(error)).toMatch(/timeout exceeded when trying to connect/);
      expect(classifyFault(error)).toBe('retryable');
    } finally {
      held.release();
      await pool.end();
    }
  });

  it('a server that accepts the connection but never answers: the client and pool connect timeouts are retryable', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 200 });
      const viaClient = await failure(client.connect());
      expect(String(viaClient)).toMatch(/timeout/i);
      expect(classifyFault(viaClient)).toBe('retryable');
      const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 200 });
      const viaPool = await failure(pool.query('SELECT 1'));
      expect(String(viaPool)).toMatch(/timeout/i);
      expect(classifyFault(viaPool)).toBe('retryable');
      await pool.end();
    } finally {
      silent.close();
    }
  });

  it('a backend terminated mid-session leaves the outcome unknown', async () => {
    const victim = await connect();
    const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const killer = await connect();
    const running = failure(victim.query('SELECT pg_sleep(5)'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    const error = await running;
    expect((error as { code?: string }).code).toBe('57P01');
    expect(classifyFault(error)).toBe('ambiguous');
  });

  it('a serialization failure is retryable', async () => {
    const [a, b] = [await connect(), await connect()];
    await a.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    await b.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    await a.query('SELECT sum(n) FROM fault_probe');
    await b.query('SELECT sum(n) FROM fault_probe');
    await a.query('UPDATE fault_probe SET n = n + 1 WHERE id = 1');
    await b.query('UPDATE fault_probe SET n = n + 1 WHERE id = 2');
    await a.query('COMMIT');
    const error = await failure(b.query('COMMIT'));
    expect((error as { code?: string }).code).toBe('40001');
    expect(classifyFault(error)).toBe('retryable');
  });

  it('a deadlock is retryable', async () => {
    const [a, b] = [await connect(), await connect()];
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('UPDATE fault_probe SET n = n + 1 WHERE id = 1');
    await b.query('UPDATE fault_probe SET n = n + 1 WHERE id = 2');
    const first = a.query('UPDATE fault_probe SET n = n + 1 WHERE id = 2').then(() => undefined, (e: unknown) => e);
    const second = b.query('UPDATE fault_probe SET n = n + 1 WHERE id = 1').then(() => undefined, (e: unknown) => e);
    const errors = (await Promise.all([first, second])).filter((e) => e !== undefined);
    await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code?: string }).code).toBe('40P01');
    expect(classifyFault(errors[0])).toBe('retryable');
  });

  it('a unique violation and a syntax error are not faults', async () => {
    const c = await connect();
    const duplicate = await failure(c.query('INSERT INTO fault_probe VALUES (1, 0)'));
    expect((duplicate as { code?: string }).code).toBe('23505');
    expect(classifyFault(duplicate)).toBeUndefined();
    const syntax = await failure(c.query('SELEC 1'));
    expect((syntax as { code?: string }).code).toBe('42601');
    expect(classifyFault(syntax)).toBeUndefined();
  });
});
