// The alert rules of the tenant and when each last fired. Seeing them takes
// the permission that manages them; without it the page says so.

import { useEffect, useState } from "preact/hooks";
import { type ApiError, gql } from "./api";
import { localTime } from "./types";

type Rule = {
  id: string;
  name: string;
  filter: unknown;
  query: string | null;
  threshold: number;
  windowSeconds: number;
  groupBy: string[];
  cooldownSeconds: number;
  paused: boolean;
  lastFiredAt: string | null;
  createdAt: string;
};

const RULES = `query Rules { alertRules { id name filter query threshold windowSeconds groupBy cooldownSeconds paused lastFiredAt createdAt } }`;

type State = { state: "loading" } | { state: "forbidden"; why: string } | { state: "error"; why: string } | { state: "done"; rules: Rule[] };

/** What a rule counts: its query and filter, as written. */
function matches(rule: Rule): string {
  const filter = rule.filter && typeof rule.filter === "object" && Object.keys(rule.filter).length ? JSON.stringify(rule.filter) : "";
  return [rule.query, filter].filter(Boolean).join(" and ") || "every event";
}

export function AlertRules({ secret, onUnauthorized }: { secret: string; onUnauthorized(why: string): void }) {
  const [state, setState] = useState<State>({ state: "loading" });
  useEffect(() => {
    gql<{ alertRules: Rule[] }>(secret, RULES)
      .then((data) => setState({ state: "done", rules: data.alertRules }))
      .catch((err: ApiError) => {
        if (err.status === 401) onUnauthorized(`Signed out: ${err.message}`);
        else if (err.code === "FORBIDDEN") setState({ state: "forbidden", why: err.message });
        else setState({ state: "error", why: err.message });
      });
  }, [secret]);

  return (
    <main class="rules" data-testid="alert-rules">
      <h2>Alert rules</h2>
      {state.state === "loading" && <p class="muted">Loading…</p>}
      {state.state === "forbidden" && (
        <p class="muted" data-testid="rules-forbidden">
          This key may not see alert rules (it needs <code>keys.manage</code> and <code>audit.read</code>, or <code>admin</code>).
        </p>
      )}
      {state.state === "error" && (
        <p class="error" role="alert">
          {state.why}
        </p>
      )}
      {state.state === "done" && state.rules.length === 0 && <p class="muted">No alert rules yet.</p>}
      {state.state === "done" && state.rules.length > 0 && (
        <table class="rules-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Counts</th>
              <th>Fires at</th>
              <th>Per</th>
              <th>Last fired</th>
            </tr>
          </thead>
          <tbody>
            {state.rules.map((rule) => (
              <tr key={rule.id} data-id={rule.id} class={rule.paused ? "paused" : ""}>
                <td class="r-name">
                  {rule.name}
                  {rule.paused && <span class="badge"> paused</span>}
                </td>
                <td class="r-matches">{matches(rule)}</td>
                <td>
                  {rule.threshold} in {rule.windowSeconds} s
                </td>
                <td>{rule.groupBy.length ? rule.groupBy.map((d) => d.toLowerCase()).join(", ") : "—"}</td>
                <td class="r-fired">
                  {rule.lastFiredAt ? (
                    <time dateTime={rule.lastFiredAt} title={`${rule.lastFiredAt} (UTC)`}>
                      {localTime(rule.lastFiredAt)}
                    </time>
                  ) : (
                    "never"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
