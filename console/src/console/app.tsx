// The console: sign in, then the newest events with endless scrolling, a
// filter bar kept in the URL, a histogram and top values over the matching
// events, an event drawer, a live tail and export; and the alert rules.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, credentialFromHash, download, gql, savedCredential, saveCredential, subscribe, type Subscription } from "./api";
import { Drawer } from "./drawer";
import { EMPTY, type FilterState, RANGES, chips, fromUrl, localInput, parseExtra, toApi, toUrl } from "./filter";
import { Overview } from "./overview";
import { AlertRules } from "./rules";
import { Erased } from "./erased";
import { ROW_FIELDS, type Row, type Viewer, actorLabel, isErased, localTime, resourceLabel } from "./types";

const ME = `query Me { viewer { scopes tenant { slug name } restriction { filter expiresAt } } }`;
const PAGE = `query Page($filter: AuditEventFilter, $query: String, $after: String) {
  auditEvents(filter: $filter, query: $query, first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${ROW_FIELDS} } } }`;
const LIVE = `subscription Live($filter: AuditEventFilter, $query: String) { auditEventRecorded(filter: $filter, query: $query) { ${ROW_FIELDS} } }`;
const PARSE = `query Parse($query: String!) { parseAuditQuery(query: $query) }`;

/** The query variable of a state: none for a blank one. */
const queryOf = (state: FilterState) => state.query.trim() || null;

export function App() {
  const [secret, setSecret] = useState<string | null>(() => {
    const fromHash = credentialFromHash();
    if (fromHash) saveCredential(fromHash);
    return fromHash ?? savedCredential();
  });
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!secret) return;
    gql<{ viewer: Viewer }>(secret, ME)
      .then((data) => setViewer(data.viewer))
      .catch((err: ApiError) => {
        saveCredential(null);
        setSecret(null);
        setError(err.status === 401 ? `Sign-in refused: ${err.message}` : err.message);
      });
  }, [secret]);

  // Also when the server stops accepting the credential (an expired token).
  const signOut = (why?: string) => {
    saveCredential(null);
    setViewer(null);
    setSecret(null);
    setError(why ?? null);
  };

  if (!secret) {
    return (
      <SignIn
        error={error}
        onSubmit={(s) => {
          setError(null);
          saveCredential(s);
          setSecret(s);
        }}
      />
    );
  }
  if (!viewer) return <p class="loading">Signing in…</p>;
  return <Views secret={secret} viewer={viewer} onSignOut={signOut} />;
}

type View = "events" | "rules";
const RULES_HASH = "#alert-rules";
const viewOf = (hash: string): View => (hash === RULES_HASH ? "rules" : "events");

/** The events, or the alert rules (`#alert-rules`, so a link or the back button reaches them). */
function Views({ secret, viewer, onSignOut }: { secret: string; viewer: Viewer; onSignOut(why?: string): void }) {
  const [view, setView] = useState<View>(() => viewOf(location.hash));
  useEffect(() => {
    const onHash = () => setView(viewOf(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  if (view === "events") return <Console secret={secret} viewer={viewer} onSignOut={onSignOut} />;
  return (
    <div class="shell">
      <Header viewer={viewer} view={view} onSignOut={onSignOut} />
      <AlertRules secret={secret} onUnauthorized={onSignOut} />
    </div>
  );
}

function Header({ viewer, view, onSignOut }: { viewer: Viewer; view: View; onSignOut(why?: string): void }) {
  const restriction = viewer.restriction;
  return (
    <header class="top">
      <strong class="brand">auditgraph</strong>
      <span class="tenant" title={viewer.tenant.slug}>
        {viewer.tenant.name}
      </span>
      {restriction && (
        <span class="badge token" title={JSON.stringify(restriction.filter)}>
          Viewer token · until {localTime(restriction.expiresAt)}
        </span>
      )}
      <span class="spacer" />
      {!restriction && (
        <nav class="views">
          <a href="#" class={`nav${view === "events" ? " current" : ""}`} data-testid="nav-events">
            Events
          </a>
          <a href={RULES_HASH} class={`nav${view === "rules" ? " current" : ""}`} data-testid="nav-rules">
            Alert rules
          </a>
          <a href="/graphql" class="nav">
            GraphiQL
          </a>
        </nav>
      )}
      <button type="button" class="link" onClick={() => onSignOut()}>
        Sign out
      </button>
    </header>
  );
}

function SignIn({ error, onSubmit }: { error: string | null; onSubmit(secret: string): void }) {
  const [value, setValue] = useState("");
  return (
    <main class="signin">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onSubmit(value.trim());
        }}
      >
        <h1>auditgraph</h1>
        <p>Sign in with an API key (<code>agk_…</code>, with <code>audit.read</code>) or a viewer token (<code>agv_…</code>).</p>
        <label>
          Key or token
          <input
            name="secret"
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            autoFocus
          />
        </label>
        <button type="submit">Sign in</button>
        {error && <p class="error" role="alert">{error}</p>}
        <p class="muted">It is kept for this browser tab only.</p>
      </form>
    </main>
  );
}

type Live = "off" | "connecting" | "on" | "paused";

function Console({ secret, viewer, onSignOut }: { secret: string; viewer: Viewer; onSignOut(why?: string): void }) {
  const [filter, setFilter] = useState<FilterState>(() => fromUrl(location.search));
  const [draft, setDraft] = useState<FilterState>(filter);
  const [rows, setRows] = useState<Row[]>([]);
  const [hasNext, setHasNext] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const [openId, setOpenId] = useState<string | null>(null);
  const [live, setLive] = useState<Live>("off");
  const [pending, setPending] = useState<Row[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const cursor = useRef<string | null>(null);
  const generation = useRef(0);
  const busy = useRef(false);
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const subscription = useRef<Subscription | null>(null);
  const paused = useRef(false);

  const load = useCallback(
    async (reset: boolean) => {
      if (busy.current && !reset) return;
      const mine = reset ? ++generation.current : generation.current;
      busy.current = true;
      setLoading(true);
      try {
        const data = await gql<{ auditEvents: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: Row[] } }>(
          secret,
          PAGE,
          { filter: toApi(filter), query: queryOf(filter), after: reset ? null : cursor.current },
        );
        if (mine !== generation.current) return;
        const page = data.auditEvents;
        cursor.current = page.pageInfo.endCursor;
        setHasNext(page.pageInfo.hasNextPage);
        setRows((old) => (reset ? page.nodes : [...old, ...page.nodes]));
        setError(null);
      } catch (err) {
        if ((err as ApiError).status === 401) onSignOut(`Signed out: ${(err as Error).message}`);
        else if (mine === generation.current) setError((err as Error).message);
      } finally {
        if (mine === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      }
    },
    [secret, filter],
  );

  // A new filter: new URL, first page, and the live tail follows it.
  useEffect(() => {
    history.replaceState(null, "", location.pathname + toUrl(filter));
    setSelected(0);
    setPending([]);
    cursor.current = null;
    load(true);
  }, [filter, load]);

  // Endless scrolling: the next page when the end of the table comes into view.
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasNext) return;
    const observer = new IntersectionObserver(
      (entries) => entries.some((e) => e.isIntersecting) && load(false),
      { root: scroller.current, rootMargin: "200px" },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [hasNext, load, rows.length]);

  const stopLive = () => {
    subscription.current?.close();
    subscription.current = null;
  };

  const startLive = useCallback(() => {
    stopLive();
    setLive("connecting");
    subscription.current = subscribe<{ auditEventRecorded: Row }>(secret, LIVE, { filter: toApi(filter), query: queryOf(filter) }, {
      started: () => setLive(paused.current ? "paused" : "on"),
      next: (data) => {
        const row = data.auditEventRecorded;
        if (paused.current) setPending((p) => [row, ...p]);
        else setRows((r) => [row, ...r]);
      },
      error: (message) => setNotice(`Live tail: ${message}`),
      closed: () => {
        subscription.current = null;
        setLive("off");
      },
    });
  }, [secret, filter]);

  // Restart the tail under a new filter.
  useEffect(() => {
    if (subscription.current) startLive();
  }, [startLive]);
  useEffect(() => stopLive, []);

  const toggleLive = () => {
    if (subscription.current) {
      stopLive();
      paused.current = false;
      setLive("off");
      setRows((r) => [...pending, ...r]);
      setPending([]);
    } else {
      paused.current = false;
      setNotice(null);
      startLive();
    }
  };

  const togglePause = () => {
    paused.current = !paused.current;
    if (!paused.current) {
      setRows((r) => [...pending, ...r]);
      setPending([]);
    }
    setLive(paused.current ? "paused" : "on");
  };

  // Keyboard: j/k or arrows move, Enter opens, Escape closes.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === "Escape") {
        setOpenId(null);
        return;
      }
      if (target.closest("input, select, textarea, button, summary") || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        setSelected((s) => Math.min(s + 1, rows.length - 1));
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        setSelected((s) => Math.max(s - 1, 0));
      } else if (e.key === "Enter" && rows[selected]) {
        e.preventDefault();
        setOpenId(rows[selected].id);
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [rows, selected]);

  useEffect(() => {
    scroller.current?.querySelector(`tr[data-index="${selected}"]`)?.scrollIntoView({ block: "nearest" });
    if (openId && rows[selected] && openId !== rows[selected].id) setOpenId(rows[selected].id);
  }, [selected]);

  const apply = (next: FilterState) => {
    setDraft(next);
    setFilter(next);
  };

  const exportAs = async (format: "ndjson" | "csv") => {
    setNotice(`Exporting ${format.toUpperCase()}…`);
    try {
      await download(secret, format, toApi(filter), filter.query);
      setNotice(`Exported ${format.toUpperCase()}.`);
    } catch (err) {
      setNotice(`Export failed: ${(err as Error).message}`);
    }
  };

  // The parsed query (or what is left of it) as removable chips; a bad
  // query is explained at its position.
  const [parsed, setParsed] = useState<Record<string, unknown> | null>(null);
  const [queryError, setQueryError] = useState<string | null>(null);
  useEffect(() => {
    const query = queryOf(filter);
    setQueryError(null);
    if (!query) {
      setParsed(parseExtra(filter.extra));
      return;
    }
    gql<{ parseAuditQuery: Record<string, unknown> }>(secret, PARSE, { query })
      .then((data) => setParsed(data.parseAuditQuery))
      .catch((err: ApiError) => {
        setParsed(null);
        const at = err.position ? ` at character ${err.position}` : "";
        setQueryError(`The query does not read${at}: ${err.message}`);
      });
  }, [secret, filter.query, filter.extra]);
  const removeChip = (key: string) => {
    const rest = { ...(parsed ?? {}) };
    delete rest[key];
    apply({ ...filter, query: "", extra: Object.keys(rest).length ? JSON.stringify(rest) : "" });
  };

  return (
    <div class={`shell${openId ? " with-drawer" : ""}`}>
      <Header viewer={viewer} view="events" onSignOut={onSignOut} />

      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <input name="action" placeholder="Action prefix" value={draft.action} onInput={(e) => setDraft({ ...draft, action: (e.target as HTMLInputElement).value })} />
        <input name="actor" placeholder="Actor (ID, email)" value={draft.actor} onInput={(e) => setDraft({ ...draft, actor: (e.target as HTMLInputElement).value })} />
        <input name="resource" placeholder="Resource (type:id)" value={draft.resource} onInput={(e) => setDraft({ ...draft, resource: (e.target as HTMLInputElement).value })} />
        <select name="outcome" value={draft.outcome} onChange={(e) => apply({ ...draft, outcome: (e.target as HTMLSelectElement).value as FilterState["outcome"] })}>
          <option value="">Any outcome</option>
          <option value="SUCCESS">Success</option>
          <option value="FAILURE">Failure</option>
        </select>
        <select name="range" value={draft.range} onChange={(e) => {
          const range = (e.target as HTMLSelectElement).value;
          const next = { ...draft, range };
          if (range === "custom") setDraft(next);
          else apply(next);
        }}>
          {RANGES.map(([key, label]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </select>
        {draft.range === "custom" && (
          <>
            <input name="from" type="datetime-local" aria-label="From" value={draft.from} onInput={(e) => setDraft({ ...draft, from: (e.target as HTMLInputElement).value })} />
            <input name="to" type="datetime-local" aria-label="To" value={draft.to} onInput={(e) => setDraft({ ...draft, to: (e.target as HTMLInputElement).value })} />
          </>
        )}
        <input name="q" type="search" placeholder="Text" value={draft.text} onInput={(e) => setDraft({ ...draft, text: (e.target as HTMLInputElement).value })} />
        <input
          name="query"
          type="search"
          class="query"
          placeholder="Query: action:workspace.* -outcome:failure metadata.size_gb:>10"
          value={draft.query}
          onInput={(e) => setDraft({ ...draft, query: (e.target as HTMLInputElement).value, extra: "" })}
        />
        <button type="submit">Apply</button>
        <button type="button" class="link" onClick={() => apply({ ...EMPTY })}>
          Clear
        </button>
      </form>

      {queryError && (
        <p class="query-error" role="alert" data-testid="query-error">
          {queryError}
        </p>
      )}
      {parsed && Object.keys(parsed).length > 0 && (
        <div class="chips" data-testid="chips">
          {chips(parsed).map(([key, value]) => (
            <span class="chip" key={key} data-field={key}>
              <strong>{key}</strong> {value}
              <button type="button" class="link" aria-label={`Remove ${key}`} onClick={() => removeChip(key)}>
                ×
              </button>
            </span>
          ))}
        </div>
      )}

      <Overview
        secret={secret}
        filter={filter}
        onNarrow={(from, to) => apply({ ...filter, range: "custom", from: localInput(from), to: localInput(to) })}
        onFacet={(field, value) => apply({ ...filter, [field]: value })}
      />

      <div class="toolbar">
        <button type="button" class={`live ${live}`} data-testid="live" data-state={live} onClick={toggleLive}>
          {live === "off" ? "▶ Live tail" : live === "connecting" ? "Connecting…" : "■ Stop live tail"}
        </button>
        {(live === "on" || live === "paused") && (
          <button type="button" onClick={togglePause} data-testid="pause">
            {live === "paused" ? `Resume (${pending.length} new)` : "Pause"}
          </button>
        )}
        {live === "paused" && (
          <span class="badge" data-testid="pending">
            {pending.length} new
          </span>
        )}
        <span class="spacer" />
        <span class="muted count">{rows.length} shown{hasNext ? ", more below" : ""}</span>
        <button type="button" onClick={() => exportAs("ndjson")} data-testid="export-ndjson">
          Export NDJSON
        </button>
        <button type="button" onClick={() => exportAs("csv")} data-testid="export-csv">
          Export CSV
        </button>
      </div>
      {notice && (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}

      <div class="table-wrap" ref={scroller}>
        <table class="events" data-testid="events">
          <thead>
            <tr>
              <th class="c-time">Time</th>
              <th class="c-action">Action</th>
              <th class="c-outcome">Outcome</th>
              <th class="c-actor">Actor</th>
              <th class="c-resource">Resource</th>
              <th class="c-summary">Summary</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr
                key={row.id}
                data-id={row.id}
                data-index={i}
                class={`${row.outcome === "FAILURE" ? "failure" : ""}${i === selected ? " selected" : ""}${row.id === openId ? " open" : ""}`}
                onClick={() => {
                  setSelected(i);
                  setOpenId(row.id);
                }}
              >
                <td class="c-time">
                  <time dateTime={row.occurredAt} title={`${row.occurredAt} (UTC)`}>
                    <span class="day">{localTime(row.occurredAt).slice(0, 10)}</span>{" "}
                    <span class="clock">{localTime(row.occurredAt).slice(11)}</span>
                  </time>
                </td>
                <td class="c-action">{row.action}</td>
                <td class="c-outcome">
                  <span class={`badge ${row.outcome.toLowerCase()}`}>{row.outcome === "SUCCESS" ? "success" : "failure"}</span>
                </td>
                <td class="c-actor" title={`${row.recordedActor.type} ${row.recordedActor.externalId}`}>
                  {actorLabel(row.recordedActor)}
                  {isErased(row, "actor.displayName") && <Erased />}
                </td>
                <td class="c-resource">{resourceLabel(row.resource)}</td>
                <td class="c-summary">{row.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && !loading && !error && <p class="empty">No events match.</p>}
        <div ref={sentinel} class="sentinel">
          {loading ? "Loading…" : hasNext ? "" : rows.length > 0 ? "The end." : ""}
        </div>
      </div>

      {openId && (
        <Drawer
          secret={secret}
          id={openId}
          onClose={() => setOpenId(null)}
          onFilter={(field, value) => {
            setOpenId(null);
            apply({ ...filter, [field]: value });
          }}
        />
      )}
    </div>
  );
}
