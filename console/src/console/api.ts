// GraphQL over HTTP and WebSocket with the tab's credential, and the
// credential itself: kept in sessionStorage (this tab only), never localStorage.

const STORAGE_KEY = "auditgraph.credential";

export function savedCredential(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function saveCredential(secret: string | null) {
  if (secret) sessionStorage.setItem(STORAGE_KEY, secret);
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** A `#token=…` in the URL (an embedding page's viewer token), taken out of the URL. */
export function credentialFromHash(): string | null {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number,
    /** In a bad query string, the 1-based character where it went wrong. */
    readonly position?: number,
  ) {
    super(message);
  }
}

type GraphQLError = { message: string; extensions?: { code?: string; position?: number } };

export async function gql<T>(secret: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json;q=0.9",
      Authorization: `Bearer ${secret}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T; errors?: GraphQLError[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status}`, undefined, response.status);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code, response.status, first.extensions?.position);
  }
  if (!body.data) throw new ApiError("the server sent no data", undefined, response.status);
  return body.data;
}

export type Subscription = { close(): void };

/** One subscription over graphql-transport-ws; `onStarted` fires once it is sent. */
export function subscribe<T>(
  secret: string,
  query: string,
  variables: Record<string, unknown>,
  on: { started(): void; next(data: T): void; error(message: string): void; closed(): void },
): Subscription {
  const url = new URL("/graphql/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url, "graphql-transport-ws");
  const send = (message: object) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      on.closed();
    }
  };
  ws.onopen = () => send({ type: "connection_init", payload: { Authorization: `Bearer ${secret}` } });
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    switch (message.type) {
      case "connection_ack":
        send({ id: "1", type: "subscribe", payload: { query, variables } });
        on.started();
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "next":
        if (message.payload?.errors?.length) on.error(message.payload.errors[0].message);
        else on.next(message.payload.data as T);
        break;
      case "error":
        on.error(message.payload?.[0]?.message ?? "the subscription failed");
        break;
      case "complete":
        ws.close(1000);
        finish();
        break;
    }
  };
  ws.onclose = (event) => {
    if (!done && event.code !== 1000 && event.reason) on.error(event.reason);
    finish();
  };
  return {
    close() {
      done = true;
      send({ id: "1", type: "complete" });
      ws.close(1000);
    },
  };
}

/** Downloads the export of `filter` (fetched with the credential, saved as a file). */
export async function download(secret: string, format: "ndjson" | "csv", filter: object, query = "") {
  const q = query.trim() ? `&q=${encodeURIComponent(query)}` : "";
  const url = `/export?format=${format}&filter=${encodeURIComponent(JSON.stringify(filter))}${q}`;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${secret}` } });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      message = body.errors?.[0]?.message ?? body.detail ?? message;
    } catch {
      if (response.status === 404) message = "this server has no export";
    }
    throw new ApiError(message, undefined, response.status);
  }
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `audit-events.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
