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

// A key the console holds for this tab (sessionStorage) fills the Headers tab.
const credential = sessionStorage.getItem("auditgraph.credential");
const headers = credential ? JSON.stringify({ Authorization: `Bearer ${credential}` }, null, 2) : undefined;

const root = createRoot(document.getElementById("graphiql")!);
root.render(
  createElement(GraphiQL, {
    fetcher: fetcher as never,
    shouldPersistHeaders: false,
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
