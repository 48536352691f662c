/**
 * Persisted documents (GraphQL over HTTP, Appendix A) and trusted documents:
 * a request may name its document by id (`documentId`) instead of sending it
 * (`query`); the ids and documents are the manifest that `npm run generate`
 * writes from operations/ (src/generated/persisted-documents.json). With
 * TRUSTED_DOCUMENTS on, only those documents run.
 *
 * Which document a request runs is decided here, once, for both transports:
 * HTTP (src/server/graphql-over-http.ts) and graphql-ws (src/server/websocket.ts)
 * call {@link resolveDocument}. Imports nothing of this project at run time: codegen.ts
 * uses {@link persistedDocument} to write the manifest and the ids.
 */
import { createHash } from 'node:crypto';
import { GraphQLError, print, type DocumentNode } from 'graphql';
import type { Actor } from '../domain/access.js';

/**
 * The SHA256 hex document identifier of a document's source text:
 * `sha256:` and the lower-case hex SHA-256 of its UTF-8 bytes.
 */
export function documentIdOf(source: string): string {
  return `sha256:${createHash('sha256').update(source, 'utf8').digest('hex')}`;
}

/**
 * An operation's persisted document: the document as a client holds it (the
 * operation and every fragment it spreads, recursively, as codegen generates
 * it), printed, and the id of that text.
 */
export function persistedDocument(document: DocumentNode): { readonly id: string; readonly source: string } {
  const source = print(document);
  return { id: documentIdOf(source), source };
}

/** The manifest's entries, by id; checked when loaded. */
export class PersistedDocuments {
  private constructor(private readonly byId: ReadonlyMap<string, string>) {}

  /**
   * The manifest as generated: a JSON object of id → document source. Throws
   * when it is not one, or when an id is not the hash of its document (a
   * manifest edited by hand, or written by something else).
   */
  static fromManifest(manifest: unknown): PersistedDocuments {
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
      throw new Error('The persisted documents manifest must be a JSON object of document id → document');
    }
    const byId = new Map<string, string>();
    for (const [id, source] of Object.entries(manifest)) {
      if (typeof source !== 'string' || documentIdOf(source) !== id) {
        throw new Error(`The persisted documents manifest is corrupt: ${id} is not the id of its document (run npm run generate)`);
      }
      byId.set(id, source);
    }
    return new PersistedDocuments(byId);
  }

  /** The document with this id, if the manifest has it. */
  get(id: string): string | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

export interface DocumentPolicy {
  readonly documents: PersistedDocuments;
  /** TRUSTED_DOCUMENTS: run only documents of the manifest (default off: any document, and ids too). */
  readonly trustedOnly: boolean;
  /**
   * IDE_ENABLED: where the IDE is served, staff (admin tokens) may still send
   * documents of their own in trusted mode, as the IDE does. Nobody else may.
   */
  readonly staffDocuments: boolean;
}

/** What a request says about its document: `query` and `documentId` as received, unchecked. */
export interface DocumentRequest {
  readonly query: unknown;
  readonly documentId: unknown;
}

/**
 * - `persisted`: run the manifest's document `source` in place of a query.
 * - `sent`: run what the request sent, as it is (the transport's own checks
 *   still apply: a missing or malformed `query` is the error it always was).
 * - `refused`: answer `error` and run nothing.
 */
export type DocumentResolution =
  | { readonly kind: 'persisted'; readonly source: string }
  | { readonly kind: 'sent' }
  | { readonly kind: 'refused'; readonly error: GraphQLError };

/** Codes of the refusals, each a request error (nothing ran). */
export const PERSISTED_DOCUMENT_NOT_FOUND = 'PERSISTED_DOCUMENT_NOT_FOUND';
export const PERSISTED_DOCUMENT_REQUIRED = 'PERSISTED_DOCUMENT_REQUIRED';

/** Absent as GraphQL over HTTP has it: missing, null, or (a GET parameter, graphql-ws's required field) empty. */
const given = (value: unknown) => value !== undefined && value !== null && value !== '';

/**
 * Which document a request runs, whatever its transport:
 * - `query` and `documentId` both: BAD_REQUEST (which one would run?);
 * - a `documentId` that is not a string: BAD_REQUEST;
 * - a `documentId` the manifest lacks: PERSISTED_DOCUMENT_NOT_FOUND;
 * - a `documentId` it has: that document, in either mode;
 * - no `documentId`: with trusted documents off, what was sent; on,
 *   PERSISTED_DOCUMENT_REQUIRED — unless `staffDocuments` and the caller is
 *   staff.
 */
export function resolveDocument(policy: DocumentPolicy, request: DocumentRequest, actor: Actor): DocumentResolution {
  if (given(request.documentId)) {
    if (given(request.query)) return refused('BAD_REQUEST', 'Send either `query` or `documentId`, not both');
    if (typeof request.documentId !== 'string') return refused('BAD_REQUEST', '`documentId` must be a string');
    const source = policy.documents.get(request.documentId);
    if (source === undefined) {
      return refused(PERSISTED_DOCUMENT_NOT_FOUND, 'No persisted document has this documentId: it is not in the manifest of this server');
    }
    return { kind: 'persisted', source };
  }
  if (!policy.trustedOnly || (policy.staffDocuments && actor.role === 'admin')) return { kind: 'sent' };
  return refused(
    PERSISTED_DOCUMENT_REQUIRED,
    'This server runs trusted documents only: send the `documentId` of a persisted document instead of `query`' +
      (policy.staffDocuments ? ' (staff may send documents of their own, as the IDE does)' : ''),
  );
}

function refused(code: string, message: string): DocumentResolution {
  return { kind: 'refused', error: new GraphQLError(message, { extensions: { code } }) };
}
