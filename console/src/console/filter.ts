// The filter bar's state: read from and written to the URL (so a view can be
// shared), and turned into the API's AuditEventFilter.

export type Outcome = "" | "SUCCESS" | "FAILURE";

export type FilterState = {
  action: string; // a prefix of the action
  actor: string; // act_… ID, email, or external ID
  resource: string; // res_… ID, type:externalId, or external ID (primary or related)
  outcome: Outcome;
  range: string; // a preset ("1h", …), "custom", or "" for all time
  from: string; // custom range, datetime-local text
  to: string;
  text: string;
  query: string; // a query string (`action:workspace.* -outcome:failure`)
  extra: string; // what is left of a parsed query once chips are removed (filter JSON)
};

export const EMPTY: FilterState = {
  action: "",
  actor: "",
  resource: "",
  outcome: "",
  range: "",
  from: "",
  to: "",
  text: "",
  query: "",
  extra: "",
};

export const RANGES: [string, string, number][] = [
  ["", "All time", 0],
  ["15m", "Last 15 minutes", 15 * 60],
  ["1h", "Last hour", 3600],
  ["24h", "Last 24 hours", 24 * 3600],
  ["7d", "Last 7 days", 7 * 24 * 3600],
  ["30d", "Last 30 days", 30 * 24 * 3600],
  ["custom", "Custom…", 0],
];

const PARAMS: [keyof FilterState, string][] = [
  ["action", "action"],
  ["actor", "actor"],
  ["resource", "resource"],
  ["outcome", "outcome"],
  ["range", "range"],
  ["from", "from"],
  ["to", "to"],
  ["text", "q"],
  ["query", "query"],
  ["extra", "f"],
];

export function fromUrl(search: string): FilterState {
  const params = new URLSearchParams(search);
  const state = { ...EMPTY };
  for (const [field, name] of PARAMS) state[field] = (params.get(name) ?? "") as never;
  if (!["", "SUCCESS", "FAILURE"].includes(state.outcome)) state.outcome = "";
  return state;
}

export function toUrl(state: FilterState): string {
  const params = new URLSearchParams();
  for (const [field, name] of PARAMS) {
    const value = state[field].trim();
    if (value && (field !== "from" && field !== "to" ? true : state.range === "custom")) params.set(name, value);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

const pad = (n: number) => String(n).padStart(2, "0");

/** An instant as datetime-local text in the browser's time zone (seconds only when not zero). */
export function localInput(at: number): string {
  const d = new Date(at);
  const minutes = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getSeconds() || d.getMilliseconds() ? `${minutes}:${pad(d.getSeconds())}` : minutes;
}

function localToIso(text: string): string | undefined {
  if (!text) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** The API filter for the state, with a preset range measured from `now`. */
export function toApi(state: FilterState, now = Date.now()): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  const action = state.action.trim();
  if (action) filter.action = { prefix: action };
  const actor = state.actor.trim();
  if (actor) {
    if (/^act_[0-9a-f]{32}$/.test(actor)) filter.actor = { id: [actor] };
    else if (actor.includes("@")) filter.actor = { email: [actor] };
    else filter.actor = { externalId: [actor] };
  }
  const resource = state.resource.trim();
  if (resource) {
    if (/^res_[0-9a-f]{32}$/.test(resource)) filter.relatedTo = { id: [resource] };
    else if (resource.includes(":")) {
      const [type, ...rest] = resource.split(":");
      const externalId = rest.join(":");
      filter.relatedTo = { ...(type && { type: [type] }), ...(externalId && { externalId: [externalId] }) };
    } else filter.relatedTo = { externalId: [resource] };
  }
  if (state.outcome) filter.outcome = state.outcome;
  const preset = RANGES.find(([key]) => key === state.range);
  if (preset && preset[2] > 0) {
    filter.occurredAt = { gte: new Date(now - preset[2] * 1000).toISOString() };
  } else if (state.range === "custom") {
    const gte = localToIso(state.from);
    const lt = localToIso(state.to);
    if (gte || lt) filter.occurredAt = { ...(gte && { gte }), ...(lt && { lt }) };
  }
  const text = state.text.trim();
  if (text) filter.text = text;
  const extra = parseExtra(state.extra);
  if (extra && Object.keys(extra).length) filter.and = [extra];
  return filter;
}

/** The filter left of a query after chips were removed, if it reads. */
export function parseExtra(text: string): Record<string, unknown> | null {
  if (!text.trim()) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** One chip per field of a parsed query: its name and what it holds. */
export function chips(parsed: Record<string, unknown>): [string, string][] {
  return Object.entries(parsed).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]);
}
