// Above the event list: a histogram of the matching events over time (a click
// or drag across bars narrows the time range) and, beside it, the top values
// of action, outcome and actor (a click filters by one).

import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, gql } from "./api";
import { type FilterState, toApi } from "./filter";
import { type Bar, type Interval, chooseInterval, layoutBars, selection } from "./histogram";
import { type Actor, actorLabel, localTime } from "./types";

type Facet = { buckets: { key: (string | null)[]; count: number }[]; otherCount: number };

// For a range open at its start: the oldest matching event, where the chart begins.
const OLDEST = `query Oldest($filter: AuditEventFilter, $query: String) {
  oldest: auditEvents(filter: $filter, query: $query, first: 1, orderBy: { field: OCCURRED_AT, direction: ASC }) { nodes { occurredAt } } }`;
// The facets and the histogram in one request: the server groups each on its own
// connection at once, and the page waits for one round trip instead of two.
const OVERVIEW = `query Overview($filter: AuditEventFilter, $query: String, $interval: StatsInterval) {
  action: auditEventStats(filter: $filter, query: $query, groupBy: [ACTION], limit: 5) { buckets { key count } otherCount }
  outcome: auditEventStats(filter: $filter, query: $query, groupBy: [OUTCOME], limit: 5) { buckets { key count } otherCount }
  actor: auditEventStats(filter: $filter, query: $query, groupBy: [ACTOR], limit: 5) { buckets { key count } otherCount }
  histogram: auditEventStats(filter: $filter, query: $query, interval: $interval) { total buckets { start count } } }`;
const ACTORS = `query Actors($ids: [ID!]!) { nodes(ids: $ids) { ... on Actor { id type externalId displayName email } } }`;

/** The chart's coordinates: bars are laid out in this box, stretched to the element. */
const BOX = { width: 1000, height: 80, gap: 2 };

type Chart = { from: number; to: number; interval: Interval; total: number; bars: Bar[] };
type Facets = { action: Facet; outcome: Facet; actor: Facet; actors: Map<string, Actor> };

export type FacetField = "action" | "outcome" | "actor";

export function Overview({
  secret,
  filter,
  onNarrow,
  onFacet,
}: {
  secret: string;
  filter: FilterState;
  onNarrow(from: number, to: number): void;
  onFacet(field: FacetField, value: string): void;
}) {
  // undefined until the first answer; null when nothing is in range.
  const [chart, setChart] = useState<Chart | null | undefined>(undefined);
  const [facets, setFacets] = useState<Facets | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    const now = Date.now();
    const apiFilter = toApi(filter, now);
    const query = filter.query.trim() || null;
    (async () => {
      // The range shown: the filter's, or from the oldest match to now.
      const range = (apiFilter.occurredAt ?? {}) as { gte?: string; lt?: string };
      const to = range.lt ? Date.parse(range.lt) : now;
      let from = range.gte ? Date.parse(range.gte) : NaN;
      if (!range.gte) {
        const first = await gql<{ oldest: { nodes: { occurredAt: string }[] } }>(secret, OLDEST, { filter: apiFilter, query });
        const oldest = first.oldest.nodes[0]?.occurredAt;
        if (oldest) from = Date.parse(oldest);
      }
      // Nothing in range: no chart, and facets of nothing.
      const interval = from < to ? chooseInterval(from, to) : "DAY";
      const data = await gql<Omit<Facets, "actors"> & { histogram: { total: number; buckets: { start: string; count: number }[] } }>(
        secret,
        OVERVIEW,
        { filter: apiFilter, query, interval },
      );
      if (!current) return;
      const { total, buckets } = data.histogram;
      setChart(from < to ? { from, to, interval, total, bars: layoutBars(buckets, { from, to }, interval, BOX) } : null);
      setError(null);
      setFacets({ action: data.action, outcome: data.outcome, actor: data.actor, actors: new Map() });

      // The top actors' names, after the counts are shown.
      const ids = data.actor.buckets.map((b) => b.key[0]).filter((id): id is string => !!id);
      if (!ids.length) return;
      const named = await gql<{ nodes: (Actor | null)[] }>(secret, ACTORS, { ids });
      if (!current) return;
      const actors = new Map(named.nodes.filter((a): a is Actor => !!a).map((a) => [a.id, a]));
      setFacets({ action: data.action, outcome: data.outcome, actor: data.actor, actors });
    })().catch((err: ApiError) => current && setError(err.message));
    return () => {
      current = false;
    };
  }, [secret, filter]);

  return (
    <section class="overview" data-testid="overview">
      {error ? <p class="muted">Overview unavailable: {error}</p> : <Histogram chart={chart} onNarrow={onNarrow} />}
      {facets && (
        <div class="facets" data-testid="facets">
          <FacetList field="action" title="Action" facet={facets.action} label={(v) => v} onFacet={onFacet} />
          <FacetList field="outcome" title="Outcome" facet={facets.outcome} label={(v) => v.toLowerCase()} onFacet={onFacet} />
          <FacetList
            field="actor"
            title="Actor"
            facet={facets.actor}
            label={(v) => {
              const actor = facets.actors.get(v);
              return actor ? actorLabel(actor) : v;
            }}
            onFacet={onFacet}
          />
        </div>
      )}
    </section>
  );
}

function Histogram({ chart, onNarrow }: { chart: Chart | null | undefined; onNarrow(from: number, to: number): void }) {
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ a: number; b: number } | null>(null);
  // When the bars are on screen: what the benchmark of the first load reads
  // (bench/console_paint.py), and any browser's performance panel shows.
  useEffect(() => {
    if (chart !== undefined) requestAnimationFrame(() => performance.mark("auditgraph:histogram"));
  }, [chart]);
  if (chart === undefined) return <div class="histogram" />;
  if (!chart) return <div class="histogram empty-chart muted">No events in range.</div>;

  // Pointer x in the chart's coordinates.
  const xOf = (e: PointerEvent) => {
    const rect = svg.current!.getBoundingClientRect();
    return ((e.clientX - rect.left) / rect.width) * BOX.width;
  };
  const range = { from: chart.from, to: chart.to };
  const band = drag && selection(drag.a, drag.b, BOX.width, range, chart.interval);
  const scale = (t: number) => ((t - chart.from) / (chart.to - chart.from)) * BOX.width;

  return (
    <div class="histogram">
      <div class="histogram-head">
        <strong data-testid="histogram-total">{chart.total}</strong> events
        <span class="muted"> · per {chart.interval.toLowerCase()} · click or drag to narrow</span>
      </div>
      <svg
        ref={svg}
        viewBox={`0 0 ${BOX.width} ${BOX.height}`}
        preserveAspectRatio="none"
        data-testid="histogram"
        data-interval={chart.interval}
        onPointerDown={(e) => {
          svg.current!.setPointerCapture(e.pointerId);
          const x = xOf(e);
          setDrag({ a: x, b: x });
        }}
        onPointerMove={(e) => drag && setDrag({ ...drag, b: xOf(e) })}
        onPointerUp={(e) => {
          if (!drag) return;
          const picked = selection(drag.a, xOf(e), BOX.width, range, chart.interval);
          setDrag(null);
          if (picked.from < picked.to) onNarrow(picked.from, picked.to);
        }}
        onPointerCancel={() => setDrag(null)}
      >
        {band && <rect class="band" x={scale(band.from)} y={0} width={scale(band.to) - scale(band.from)} height={BOX.height} />}
        {chart.bars.map((bar) => (
          <rect
            key={bar.start}
            class="bar"
            x={bar.x}
            y={bar.y}
            width={bar.width}
            height={bar.height}
            data-start={new Date(bar.start).toISOString()}
            data-count={bar.count}
          >
            <title>
              {localTime(new Date(bar.start).toISOString())}: {bar.count}
            </title>
          </rect>
        ))}
      </svg>
      <div class="axis muted">
        <span>{localTime(new Date(chart.from).toISOString())}</span>
        <span>{localTime(new Date(chart.to).toISOString())}</span>
      </div>
    </div>
  );
}

function FacetList({
  field,
  title,
  facet,
  label,
  onFacet,
}: {
  field: FacetField;
  title: string;
  facet: Facet;
  label(value: string): string;
  onFacet(field: FacetField, value: string): void;
}) {
  return (
    <div class="facet" data-facet={field}>
      <h4>{title}</h4>
      <ul>
        {facet.buckets.map(({ key: [value], count }) =>
          value === null ? null : (
            <li key={value}>
              <button type="button" class="link" data-value={value} title={value} onClick={() => onFacet(field, value)}>
                {label(value)}
              </button>
              <span class="muted">{count}</span>
            </li>
          ),
        )}
        {facet.otherCount > 0 && (
          <li class="muted">
            other <span>{facet.otherCount}</span>
          </li>
        )}
      </ul>
    </div>
  );
}
