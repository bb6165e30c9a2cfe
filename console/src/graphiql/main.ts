// The GraphiQL playground, bundled so it works offline: queries and mutations
// go over HTTP, subscriptions over WebSocket (graphql-transport-ws); both carry
// the headers typed in the Headers tab. Headers are never persisted.
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createClient, type Client } from "graphql-ws";
import "graphiql/graphiql.css";
import "./page.css";

type Params = { query?: string; operationName?: string | null; variables?: unknown };
type Headers = Record<string, string>;

const endpoint = new URL("/graphql", window.location.href).href;
const wsEndpoint = endpoint.replace(/^http/, "ws") + "/ws";
const wsClients = new Map<string, Client>();

function wsClient(headers: Headers): Client {
  const key = JSON.stringify(headers);
  let client = wsClients.get(key);
  if (!client) {
    client = createClient({ url: wsEndpoint, lazy: true, connectionParams: headers });
    wsClients.set(key, client);
  }
  return client;
}

function isSubscription(params: Params): boolean {
  const text = (params.query || "").replace(/#[^\n]*/g, "");
  if (params.operationName) {
    return new RegExp("subscription\\s+" + params.operationName + "\\b").test(text);
  }
  return /^\s*subscription\b/.test(text);
}

function fetcher(params: Params, options?: { headers?: Headers }) {
  const headers = options?.headers ?? {};
  if (isSubscription(params)) {
    const client = wsClient(headers);
    return {
      subscribe(observer: { next?: (v: unknown) => void; error?: (e: unknown) => void; complete?: () => void }) {
        const dispose = client.subscribe(params as { query: string }, {
          next: (value) => observer.next?.(value),
          error: (error) => observer.error?.(error),
          complete: () => observer.complete?.(),
        });
        return { unsubscribe: dispose };
      },
    };
  }
  return fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json", ...headers },
    body: JSON.stringify(params),
  }).then((response) => response.json());
}

// GraphiQL keeps tabs and history in localStorage, headers included (even
// with shouldPersistHeaders off): this storage drops every `headers` field
// before anything is written, so no key is ever persisted.
function withoutHeaders(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutHeaders);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([key]) => key !== "headers")
        .map(([key, v]) => [key, withoutHeaders(v)]),
    );
  }
  return value;
}

const storage = {
  getItem: (key: string) => localStorage.getItem(key),
  setItem(key: string, value: string) {
    if (/headers/i.test(key)) return;
    let scrubbed = value;
    try {
      scrubbed = JSON.stringify(withoutHeaders(JSON.parse(value)));
    } catch {
      // Not JSON: a plain value such as the last query's text.
    }
    localStorage.setItem(key, scrubbed);
  },
  removeItem: (key: string) => localStorage.removeItem(key),
  clear: () => localStorage.clear(),
  get length() {
    return localStorage.length;
  },
};

// A key the console holds for this tab (sessionStorage) fills the Headers tab.
const credential = sessionStorage.getItem("auditgraph.credential");
const headers = credential ? JSON.stringify({ Authorization: `Bearer ${credential}` }, null, 2) : undefined;

const root = createRoot(document.getElementById("graphiql")!);
root.render(
  createElement(GraphiQL, {
    fetcher: fetcher as never,
    shouldPersistHeaders: false,
    storage,
    headers,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: headers ? "headers" : undefined,
    defaultQuery: `# Put your API key in the Headers tab: {"Authorization": "Bearer agk_…"}
query LatestEvents {
  auditEvents(first: 10) {
    totalCount
    nodes { id action outcome occurredAt summary actor { type displayName } resource { type name } }
  }
}
`,
  }),
);
