export type Actor = { id: string; type: string; externalId: string; displayName?: string | null; email?: string | null; roles?: string[] };
/** The actor as the producer described it with the event (what the leaf holds). */
export type ActorSnapshot = { type: string; externalId: string; displayName?: string | null; email?: string | null; roles: string[] };
export type Resource = { id: string; type: string; externalId: string; name?: string | null };

/** One row of the table. */
export type Row = {
  id: string;
  action: string;
  outcome: "SUCCESS" | "FAILURE";
  occurredAt: string;
  summary: string | null;
  actor: Actor;
  recordedActor: ActorSnapshot;
  resource: Resource | null;
  /** Paths of personal values erased since (`actor.email`, `metadata.phone`…): they read null. */
  erasedPaths: string[];
};

export type Detail = Row & {
  category: string;
  receivedAt: string;
  reason: string | null;
  errorMessage: string | null;
  environment: string | null;
  sourceService: string | null;
  correlationId: string | null;
  idempotencyKey: string | null;
  metadata: unknown;
  changes: { field: string; before: unknown; after: unknown }[];
  request: {
    id: string | null;
    method: string | null;
    path: string | null;
    status: number | null;
    latencyMs: number | null;
    ipAddress: string | null;
    userAgent: string | null;
  } | null;
  relatedResources: Resource[];
};

export type Viewer = {
  scopes: string[];
  tenant: { slug: string; name: string };
  restriction: { filter: unknown; expiresAt: string } | null;
};

export const ROW_FIELDS = `id action outcome occurredAt summary
  actor { id type externalId displayName email }
  recordedActor { type externalId displayName email roles }
  resource { id type externalId name }
  erasedPaths`;

/** Whether the value at `path` of the event was erased (not merely absent). */
export function isErased(row: Row, path: string): boolean {
  return row.erasedPaths.includes(path);
}

export function actorLabel(actor: Actor | ActorSnapshot): string {
  return actor.displayName || actor.email || actor.externalId;
}

/** The actor's current profile where it differs from the one recorded with the event, else null. */
export function currentProfile(row: Row): Actor | null {
  const { actor, recordedActor: recorded } = row;
  const same = (actor.displayName ?? null) === (recorded.displayName ?? null) && (actor.email ?? null) === (recorded.email ?? null);
  return same ? null : actor;
}

export function resourceLabel(resource: Resource | null): string {
  if (!resource) return "";
  return `${resource.type}: ${resource.name || resource.externalId}`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `2026-01-31 13:45:07` in the browser's time zone. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
