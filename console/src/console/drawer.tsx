// The event drawer: every field, metadata as a tree, changes as a diff, the
// request, related resources (click to filter), and the ledger check.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { gql } from "./api";
import { ChangesDiff, JsonTree } from "./json";
import { type Checkpoint, type InclusionProof, type Verdict, countCosigners, verify } from "./proof";
import { Erased } from "./erased";
import { type Detail, type Resource, ROW_FIELDS, actorLabel, currentProfile, isErased, localTime } from "./types";

const DETAIL = `query Event($id: ID!) { auditEvent(id: $id) { ${ROW_FIELDS}
  category receivedAt reason errorMessage environment sourceService correlationId idempotencyKey
  metadata changes { field before after }
  request { id method path status latencyMs ipAddress userAgent }
  actor { roles }
  relatedResources { id type externalId name } } }`;

// Asked separately, so a server without the ledger still shows the event.
// The newest persisted checkpoint is the one witnesses cosigned; the current
// head, signed now, is newer but may not be cosigned yet.
const CHECKPOINT_FIELDS = `origin size rootHash signedNote witnessed`;
const HEAD = `query Head($id: ID!) {
  ledger { verifierKey witnessKeys witnessQuorum checkpoint { ${CHECKPOINT_FIELDS} }
    checkpoints(first: 20) { nodes { ${CHECKPOINT_FIELDS} } } }
  auditEvent(id: $id) { sequence } }`;
const PROOF = `query Proof($id: ID!, $size: BigInt) { auditEvent(id: $id) {
  sequence canonicalJson leafHash inclusionProof(treeSize: $size) { leafIndex treeSize leafHash hashes } } }`;

type Witnessed = Checkpoint & { witnessed: boolean };

/** What the witnesses say of a checkpoint: `cosigned` as checked here (null: not checkable in this browser). */
type Witnessing = { witnesses: number; quorum: number; cosigned: number | null; serverSays: boolean };

type Ledger =
  | { state: "checking" }
  | { state: "unavailable"; why: string }
  | {
      state: "done";
      sequence: string;
      verdict: Verdict;
      checkpoint: Checkpoint;
      verifierKey: string;
      witnessing: Witnessing;
    };

type Head = {
  ledger: {
    verifierKey: string;
    witnessKeys: string[];
    witnessQuorum: number;
    checkpoint: Witnessed;
    checkpoints: { nodes: Witnessed[] };
  };
  auditEvent: { sequence: string } | null;
};

/** The current head if witnessed, else the newest witnessed checkpoint that holds the event, else the head. */
function chooseCheckpoint(head: Head): Witnessed {
  const current = head.ledger.checkpoint;
  const sequence = head.auditEvent ? BigInt(head.auditEvent.sequence) : null;
  if (current.witnessed || sequence === null) return current;
  return head.ledger.checkpoints.nodes.find((c) => c.witnessed && BigInt(c.size) >= sequence) ?? current;
}

// Whether the schema has the ledger (when introspection is off, assume it does).
const HAS_LEDGER = `query HasLedger { __type(name: "InclusionProof") { name } }`;
let hasLedger: Promise<boolean> | null = null;

async function checkLedger(secret: string, id: string): Promise<Ledger> {
  hasLedger ??= gql<{ __type: { name: string } | null }>(secret, HAS_LEDGER).then((d) => d.__type !== null, () => true);
  if (!(await hasLedger)) return { state: "unavailable", why: "this server keeps no ledger" };
  try {
    const head = await gql<Head>(secret, HEAD, { id });
    const { verifierKey, witnessKeys, witnessQuorum } = head.ledger;
    const checkpoint = chooseCheckpoint(head);
    const witnessing = {
      witnesses: witnessKeys.length,
      quorum: witnessQuorum,
      cosigned: await countCosigners(checkpoint.signedNote, witnessKeys),
      serverSays: checkpoint.witnessed,
    };
    const proof = await gql<{
      auditEvent: { sequence: string; canonicalJson: string; leafHash: string; inclusionProof: InclusionProof } | null;
    }>(secret, PROOF, { id, size: checkpoint.size });
    const event = proof.auditEvent;
    if (!event) return { state: "unavailable", why: "the event is no longer there" };
    const verdict = await verify(event.canonicalJson, event.leafHash, event.inclusionProof, checkpoint, verifierKey);
    return { state: "done", sequence: event.sequence, verdict, checkpoint, verifierKey, witnessing };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "GRAPHQL_VALIDATION_FAILED" ? "this server keeps no ledger" : (err as Error).message;
    return { state: "unavailable", why };
  }
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  if (children === null || children === undefined || children === "" || children === false) return null;
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function Instant({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={`${iso} (UTC)`}>
      {localTime(iso)} <span class="muted">· {iso}</span>
    </time>
  );
}

/** Whether the checkpoint is witnessed, by how many of how many witnesses. */
function WitnessingLine({ witnessing }: { witnessing: Witnessing }) {
  const { witnesses, quorum, cosigned, serverSays } = witnessing;
  if (witnesses === 0) {
    return (
      <p class="muted" data-testid="witnessing">
        No witnesses: only the log's own key vouches for this checkpoint.
      </p>
    );
  }
  const witnessed = cosigned === null ? serverSays : cosigned >= quorum;
  return (
    <p class={witnessed ? "verified" : "unverified"} data-testid="witnessing">
      {witnessed ? "✓ Witnessed" : "✗ Not witnessed"}: cosigned by {cosigned ?? "?"} of {witnesses}{" "}
      {witnesses === 1 ? "witness" : "witnesses"} (quorum {quorum})
      {cosigned === null ? " (not checked: this browser has no Ed25519)" : ""}
    </p>
  );
}

function LedgerSection({ ledger }: { ledger: Ledger }) {
  if (ledger.state === "checking") return <p class="muted">Checking the inclusion proof…</p>;
  if (ledger.state === "unavailable") return <p class="muted" data-testid="ledger-unavailable">Not verified: {ledger.why}.</p>;
  const { verdict, checkpoint } = ledger;
  return (
    <div>
      <p class={verdict.ok ? "verified" : "unverified"} data-testid={verdict.ok ? "verified" : "unverified"}>
        {verdict.ok ? "✓ Verified" : "✗ Not verified"} against the signed checkpoint of size {checkpoint.size}
      </p>
      <WitnessingLine witnessing={ledger.witnessing} />
      <ul class="checks">
        {verdict.steps.map((s) => (
          <li key={s.label} class={s.ok === true ? "ok" : s.ok === false ? "bad" : "muted"}>
            {s.ok === true ? "✓" : s.ok === false ? "✗" : "?"} {s.label}
            {s.ok === null ? " (not checked: this browser has no Ed25519)" : ""}
          </li>
        ))}
      </ul>
      <details>
        <summary>Checkpoint</summary>
        <pre class="note">{checkpoint.signedNote}</pre>
        <p class="muted">Verifier key: {ledger.verifierKey}</p>
      </details>
    </div>
  );
}

export function Drawer(props: {
  secret: string;
  id: string;
  onClose(): void;
  onFilter(field: "actor" | "resource", value: string): void;
}) {
  const { secret, id } = props;
  const [event, setEvent] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ledger, setLedger] = useState<Ledger>({ state: "checking" });

  useEffect(() => {
    let live = true;
    setEvent(null);
    setError(null);
    setLedger({ state: "checking" });
    gql<{ auditEvent: Detail | null }>(secret, DETAIL, { id })
      .then((data) => live && (data.auditEvent ? setEvent(data.auditEvent) : setError("This event is not visible.")))
      .catch((err: Error) => live && setError(err.message));
    checkLedger(secret, id).then((result) => live && setLedger(result));
    return () => {
      live = false;
    };
  }, [secret, id]);

  const resourceButton = (r: Resource) => (
    <button type="button" class="link" onClick={() => props.onFilter("resource", r.id)} title="Show events involving it">
      {r.type}: {r.name || r.externalId}
    </button>
  );

  const current = event && currentProfile(event);
  const erasedValues = event ? event.erasedPaths.filter((p) => p.startsWith("metadata.") || p.startsWith("changes.")) : [];

  return (
    <aside class="drawer" aria-label="Event detail" data-testid="drawer">
      <header>
        <h2>{event?.action ?? "Event"}</h2>
        {event && <span class={`badge ${event.outcome.toLowerCase()}`}>{event.outcome}</span>}
        <button type="button" class="close" onClick={props.onClose} aria-label="Close (Esc)">
          ×
        </button>
      </header>
      {error && <p class="error">{error}</p>}
      {!event && !error && <p class="muted">Loading…</p>}
      {event && (
        <div class="drawer-body">
          {event.summary && <p class="summary">{event.summary}</p>}
          <section>
            <h3>Event</h3>
            <dl>
              <Field name="ID">
                <code>{event.id}</code>
              </Field>
              <Field name="Sequence">{ledger.state === "done" ? ledger.sequence : null}</Field>
              <Field name="Occurred">
                <Instant iso={event.occurredAt} />
              </Field>
              <Field name="Received">
                <Instant iso={event.receivedAt} />
              </Field>
              <Field name="Category">{event.category}</Field>
              <Field name="Environment">{event.environment}</Field>
              <Field name="Source">{event.sourceService}</Field>
              <Field name="Correlation">{event.correlationId}</Field>
              <Field name="Idempotency key">{event.idempotencyKey}</Field>
              <Field name="Reason">{event.reason}</Field>
              <Field name="Error">{event.errorMessage && <span class="error">{event.errorMessage}</span>}</Field>
            </dl>
          </section>
          <section>
            <h3>Actor</h3>
            <dl>
              <Field name="Who">
                <button type="button" class="link" onClick={() => props.onFilter("actor", event.actor.id)} title="Show this actor's events">
                  {actorLabel(event.recordedActor)}
                </button>
                {isErased(event, "actor.displayName") && <Erased />}
              </Field>
              <Field name="Type">{event.recordedActor.type}</Field>
              <Field name="External ID">{event.recordedActor.externalId}</Field>
              <Field name="Email">{event.recordedActor.email ?? (isErased(event, "actor.email") && <Erased />)}</Field>
              <Field name="Roles">{event.recordedActor.roles.length ? event.recordedActor.roles.join(", ") : null}</Field>
              {current && (
                <Field name="Current profile">
                  <span class="muted" data-testid="current-profile" title="The actor's profile now, not as recorded with this event">
                    {actorLabel(current)}
                    {current.email && current.email !== current.displayName ? ` <${current.email}>` : ""} (current)
                  </span>
                </Field>
              )}
            </dl>
          </section>
          {(event.resource || event.relatedResources.length > 0) && (
            <section>
              <h3>Resources</h3>
              <dl>
                <Field name="Primary">{event.resource && resourceButton(event.resource)}</Field>
                <Field name="Related">
                  {event.relatedResources.length > 0 && (
                    <ul class="related" data-testid="related">
                      {event.relatedResources.map((r) => (
                        <li key={r.id}>{resourceButton(r)}</li>
                      ))}
                    </ul>
                  )}
                </Field>
              </dl>
            </section>
          )}
          {event.request && (
            <section>
              <h3>Request</h3>
              <dl>
                <Field name="Method">{event.request.method}</Field>
                <Field name="Path">{event.request.path && <code>{event.request.path}</code>}</Field>
                <Field name="Status">{event.request.status}</Field>
                <Field name="Latency">{event.request.latencyMs !== null ? `${event.request.latencyMs} ms` : null}</Field>
                <Field name="IP address">{event.request.ipAddress ?? (isErased(event, "request.ipAddress") && <Erased />)}</Field>
                <Field name="User agent">{event.request.userAgent ?? (isErased(event, "request.userAgent") && <Erased />)}</Field>
                <Field name="Request ID">{event.request.id}</Field>
              </dl>
            </section>
          )}
          {event.changes.length > 0 && (
            <section>
              <h3>Changes</h3>
              <ChangesDiff changes={event.changes} />
            </section>
          )}
          {erasedValues.length > 0 && (
            <p class="muted" data-testid="erased-values">
              <Erased /> personal values, now null: {erasedValues.join(", ")}
            </p>
          )}
          <section>
            <h3>Metadata</h3>
            <div class="json" data-testid="metadata">
              <JsonTree value={event.metadata} />
            </div>
          </section>
          <section>
            <h3>Ledger</h3>
            <LedgerSection ledger={ledger} />
          </section>
        </div>
      )}
    </aside>
  );
}
